"""trust.server"""
