"""trust.outputs"""
