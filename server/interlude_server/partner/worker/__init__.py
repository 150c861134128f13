"""The embedded simulators as a network worker out of process (`python -m
interlude_server.partner.worker`): it dials the server's --network-listen and carries out
what the server asks over the southbound contract (interlude.network.v1)."""
