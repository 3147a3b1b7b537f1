"""Tests for the signing half of the client: sceau sign, attest, keys, TUF trust."""
