"""services/oidc"""
