"""The core: the canonical record (schema), the frozen results (model), config, presets,
time ranges, prices and the errors a user can cause. Imports nothing else of botistat."""
