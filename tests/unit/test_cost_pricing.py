import pytest

from shortdrama.config import Pricing
from shortdrama.cost.pricing import billed_seconds, llm_cost, resolution_name, speech_cost, training_cost, video_cost


@pytest.mark.parametrize("duration, billed", [(3, 5), (5, 5), (7, 10), (10, 10), (12, 20), (23, 30)])
def test_clips_are_billed_in_the_lengths_the_api_sells(duration, billed):
    assert billed_seconds(duration, [5, 10]) == billed


def test_unrounded_billing_when_the_api_sells_any_length():
    assert billed_seconds(7.3, []) == 7.3


def test_video_price_scales_with_resolution():
    pricing = Pricing(per_second=0.10, billing_seconds=[5, 10], resolution_multiplier={"720p": 1.0, "1080p": 1.5})
    assert resolution_name(1080, 1920) == "1080p"
    assert video_cost(pricing, 7, 720, 1280) == pytest.approx(1.0)
    assert video_cost(pricing, 7, 1080, 1920) == pytest.approx(1.5)
    assert video_cost(pricing, 7, 480, 854) == pytest.approx(1.0), "no multiplier listed: 1x"


def test_token_priced_llm():
    pricing = Pricing(input_per_mtok=0.27, output_per_mtok=1.10)
    # 4,000 characters in (1,000 tokens) and 8,000 out (2,000 tokens)
    assert llm_cost(pricing, 4000, 8000) == pytest.approx((1000 * 0.27 + 2000 * 1.10) / 1e6)


def test_other_units():
    assert speech_cost(Pricing(per_1k_chars=0.3), 500) == pytest.approx(0.15)
    assert training_cost(Pricing(per_gpu_hour=2.5), 0.5) == pytest.approx(1.25)
    assert training_cost(Pricing(per_training_run=20.0), 3) == pytest.approx(20.0)
    assert Pricing().is_free and not Pricing(per_call=0.01).is_free
