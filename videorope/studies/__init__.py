"""Studies: the experiment runners that load models and write results, apart from the library.

- :mod:`~videorope.studies.sweep`: the one resumable length x method sweep (NIAH samples
  generated once, replies and perplexity per method and length) and the JSON + figures +
  markdown writer that every study shares
- :mod:`~videorope.studies.extend`: length extension vs the critical-dimension prediction
- :mod:`~videorope.studies.analysis`: attention diagnostics as studies (``videorope analyze``)
- :mod:`~videorope.studies.fourier`: FourierAttention calibration and the cache comparison
- :mod:`~videorope.studies.llada`: NIAH through the LLaDA sampler
- :mod:`~videorope.studies.demo`: the main job, V-RULER in miniature

The library packages (``analysis``, ``cache``, ``llada``, ``niah``) load no models.
"""
