"""The Partner's network out of process: requests go to network workers attached over the
southbound contract (interlude.network.v1.NetworkService), results come back by request id."""
