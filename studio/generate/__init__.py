"""Data from models: new rows from a teacher (synthetic) and preference pairs from AI feedback (pairs).

synthetic: seed rows -> a teacher writes new instructions and answers -> the clean path -> rows.
pairs: prompts -> K sampled answers -> a jury of judges or a reward-model run scores them -> the
best and the worst become chosen and rejected (DPO, ORPO) and labelled rows (KTO).
Models are reached through studio.chat.backends (the studio's engine, a GGUF, an endpoint).

- ``synthetic``: self-instruct rows from a teacher, cleaned like any dataset;
- ``pairs``: K sampled answers per prompt, scored, the best and the worst kept as a pair;
- ``options``: what a generation is asked to do (GenerateOptions, PairOptions), apart from the code
  that does it so the CLI builds its flags and the Data tab its form without torch.
"""
