"""services/rekor"""
