"""services/ca"""
