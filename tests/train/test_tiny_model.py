"""The offline tiny Qwen2.5-VL loads through the Auto classes like the real model."""

import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

from spinemed.models.tiny import build_tiny_qwen25vl


def test_tiny_qwen25vl_roundtrip_generate_and_loss(tmp_path):
    path = build_tiny_qwen25vl(tmp_path / "tiny")
    processor = AutoProcessor.from_pretrained(path)
    model = AutoModelForImageTextToText.from_pretrained(path)
    assert model.config.model_type == "qwen2_5_vl"
    img = Image.new("RGB", (120, 160), (90, 90, 90))
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Which level? 腰4/5"}]}]
    prompt = processor.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    assert prompt.count("<|image_pad|>") == 1 and prompt.endswith("<|im_start|>assistant\n")
    inputs = processor(text=[prompt], images=[img], return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]
    # assistant-only loss needs the template's generation markers
    convo = [{"role": "user", "content": [{"type": "image", "image": img}, {"type": "text", "text": "Which level?"}]},
             {"role": "assistant", "content": [{"type": "text", "text": "L4-L5"}]}]
    enc = processor.apply_chat_template(convo, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    assert 0 < int(torch.as_tensor(enc["assistant_masks"]).sum()) < len(enc["input_ids"][0])
    full = processor(text=[processor.apply_chat_template(convo, tokenize=False)], images=[img], return_tensors="pt")
    loss = model(**full, labels=full["input_ids"]).loss
    assert torch.isfinite(loss)
