"""The MEF LSO Interlude REST form of the same model: MEF JSON <-> the contract's messages.

In-process (`interlude-server --rest-listen`) the adapter calls the servicers
directly; as a gateway (`interlude-rest-gateway --upstream`) it calls a remote
server through the generated stubs. Both use the same mapping and error table.
"""
