"""Guards for the tests that build tiny diffusion models in code (LoRA families, local video)."""

import socket

import pytest


def _no_network(*args, **kwargs):
    raise AssertionError("a test tried to open a network connection (nothing may be downloaded)")


@pytest.fixture(scope="module")
def offline():
    """Block outgoing connections for the whole module: every model file comes from tmp_path."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket.socket, "connect_ex", _no_network)
        mp.setattr(socket, "create_connection", _no_network)
        yield


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models on a shared 2-core box: one intra-op thread is several times faster than two fighting for it."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
