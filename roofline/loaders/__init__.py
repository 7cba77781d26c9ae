"""Loading the data: the shipped profiles and a user's files (``files``), chips, models (from profiles, TOML
or a Hugging Face ``config.json``, read by ``hf_config``) and the expected efficiency of a chip."""
