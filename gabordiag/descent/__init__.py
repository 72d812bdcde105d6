"""Descent: optimizers with torch.optim's semantics, the one batched runner, and the
verdicts that say what a run did."""
