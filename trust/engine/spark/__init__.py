"""The Spark engine: the same governed SQL on Apache Spark, reading the departments' files in place.

Nothing here imports pyspark at module import time except the modules that need it
(``session``, ``source``, ``engine``); ``import trust.engine.spark`` stays light.
"""
