"""services/tuf"""
