"""trust.policy"""
