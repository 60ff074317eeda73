"""trust.client"""
