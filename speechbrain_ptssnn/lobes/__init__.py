from speechbrain_ptssnn.lobes.masking import check_lengths, lengths_to_mask, masked_mean  # noqa: F401
