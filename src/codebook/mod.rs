//! NF4 / FP4 (E2M1) codebooks with block absmax scales, bitsandbytes layout. Filled in by the codebook work.
