"""Unit, contract and end-to-end tests (real server processes on 127.0.0.1)."""
