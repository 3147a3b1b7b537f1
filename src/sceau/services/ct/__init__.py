"""services/ct"""
