"""The southbound side: the Partner network behind the Interlude server.

`PartnerBackend` is the interface a real network controller implements; the
embedded `SimulatedPartner` is the default. `OrderProcessor` drives orders
through their state machine and asks the backend to carry out each item.
"""
