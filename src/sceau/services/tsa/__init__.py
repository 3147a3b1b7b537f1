"""services/tsa"""
