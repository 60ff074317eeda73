"""trust.engine"""
