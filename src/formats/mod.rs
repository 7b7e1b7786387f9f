//! ggml/GGUF 4-bit block formats (Q4_0, Q4_1, IQ4_NL, MXFP4). Filled in by the formats work.
