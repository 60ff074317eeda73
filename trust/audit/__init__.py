"""trust.audit"""
