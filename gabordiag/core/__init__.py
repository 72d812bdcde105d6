"""The numerical core: the kernel and its derivatives, images, losses, the problem, and
user-supplied kernels. Never prints."""
