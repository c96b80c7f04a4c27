"""V-RULER: video long-context benchmark (VideoRoPE++): needle images inserted into long real haystack videos."""
