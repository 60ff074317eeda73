"""trust.sdc"""
