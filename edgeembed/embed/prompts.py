"""Instruction prompts (e5's "query: " / "passage: ", bge's query instruction), applied as
sentence-transformers applies them: an explicit ``prompt`` wins, then ``prompt_name``, then the
bundle's ``default_prompt_name``; the prompt text goes in front of every input."""

from __future__ import annotations

from collections.abc import Mapping

from edgeembed.errors import InputError

QUERY_PROMPT_NAMES = ("query",)
DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")


def resolve_prompt(
    prompts: Mapping[str, str], default_name: str, prompt_name: str | None = None, prompt: str | None = None
) -> str:
    """The text to put before each input ("" for none)."""
    if prompt is not None:
        if not isinstance(prompt, str):
            raise InputError(f"prompt must be a string, got {type(prompt).__name__}")
        return prompt
    if prompt_name is not None:
        if prompt_name in prompts:
            return prompts[prompt_name]
        if prompts:
            raise InputError(f"unknown prompt_name {prompt_name!r}; this bundle's prompts: {sorted(prompts)}")
        raise InputError(
            f"prompt_name {prompt_name!r}: this bundle has no prompts; pass prompt='...' or convert "
            f"with --prompt {prompt_name}=TEXT"
        )
    return prompts.get(default_name, "") if default_name else ""


def first_prompt_name(prompts: Mapping[str, str], candidates: tuple[str, ...]) -> str | None:
    """The first of ``candidates`` the bundle has (``encode_query`` / ``encode_document``)."""
    return next((name for name in candidates if name in prompts), None)


def with_prompt(texts: list[str], prompt: str) -> list[str]:
    return [prompt + text for text in texts] if prompt else texts
