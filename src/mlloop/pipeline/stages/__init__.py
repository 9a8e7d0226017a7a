"""The DVC stages, one module each: read inputs through params, call the pure logic, and
write every output atomically (files.atomic_outputs). dvc.yaml lists each stage's module
as a dependency, so changing one stage's code re-runs that stage and what follows it.
"""
