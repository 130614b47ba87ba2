from tiny_models import SENTENCES, build_tokenizer_json

from edgeembed.converters.calibration import build_calibration_set
from edgeembed.embed.tokenize import BucketTokenizer


def test_every_bucket_gets_samples_shaped_like_the_device_inputs(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(build_tokenizer_json())
    tokenizer = BucketTokenizer(path, 32, (8, 16, 32))
    calibration = build_calibration_set(tokenizer, SENTENCES, min_per_bucket=5)
    assert set(calibration.samples) == {8, 16, 32}
    for bucket, samples in calibration.samples.items():
        assert len(samples) >= 5
        for ids, mask in samples:
            assert ids.shape == mask.shape == (1, bucket)
            real = int(mask.sum())
            lower = {8: 0, 16: 8, 32: 16}[bucket]
            assert lower < real <= bucket  # lengths that really fall into this bucket
    assert calibration.synthesized > 0
