"""trust.sql"""
