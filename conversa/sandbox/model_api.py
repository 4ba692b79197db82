"""The simulator plays the assistant's model: OpenAI's Chat Completions API under
/sandbox/v1, so that the tests and the demo run with no model server and no network.

What it answers, deterministically:
- the next scripted reply of the caller, if a test queued some (POST /sandbox/v1/faults);
- else, for the assistant's helpers (a system message whose first line is `Task: <name>`, as
  assistant/helpers.py writes them), the task done by rule on the user's text: a rewrite
  friendlier, shorter or with a few spellings fixed, a translation tagged with its language,
  a summary counting the messages and quoting the customer's last, a classification as JSON
  (sentiment and topic from keywords);
- else, for a prompt laid out as a persona's (assistant/answers.py: "## Greeting", "## Facts",
  "## Passages" sections), the greeting and the first sentences of the passage or fact that
  shares most words with the customer's last message: grounded, like a careful model;
- else the customer's last words echoed: "You said: …";
- cut at `max_tokens` (`max_completion_tokens`), with finish_reason "length" then;
- with `usage` counted the same way every time (about four characters a token).

Faults on demand, per caller: the next N calls answer an HTTP status (429 with Retry-After,
500, 503…) or never answer in time (a timeout), and a latency before every answer. The caller is
the key it sends (`Authorization: Bearer`, or Azure's `api-key`): the install's global sandbox
key, or an organization's own key derived from it (tenants.py), so that two organizations'
tests script their models apart. Shapes as OpenAI's API reference gives them (the real
`openai` client reads them in tests/sandbox/test_model_api.py).
"""

import json
import math
import re
import secrets
import time
import unicodedata

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from conversa.sandbox import tenants
from conversa.sandbox.models import SandboxModelScript

MODEL = "conversa-sandbox"
# What one request may hold (a real server's limits are of this order).
MAX_BODY_BYTES = 1024 * 1024
MAX_MESSAGES = 500
ROLES = {"system", "developer", "user", "assistant", "tool"}
# What a test may script.
FAULT_STATUSES = {0, 400, 401, 408, 429, 500, 502, 503, 504}
MAX_FAIL_NEXT = 1000
MAX_REPLIES = 100
MAX_REPLY_LENGTH = 10_000
MAX_LATENCY_MS = 60_000
MAX_RETRY_AFTER = 3600
PASSAGE_MARK = re.compile(r"^\[\d+\]\s?")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
SHORTEST_ANSWER = 40
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    408: "timeout",
    429: "rate_limit_exceeded",
}


class ModelRefusal(Exception):
    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


def error(status: int, message: str, code: str | None = None) -> JsonResponse:
    """OpenAI's error shape: {"error": {"message", "type", "param", "code"}}."""
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JsonResponse(body, status=status)


def caller(request) -> str:
    """The tenant whose key the request carries ("" for the global key); 401 otherwise."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    key = given.strip() if scheme.lower() == "bearer" else ""
    key = key or request.headers.get("api-key", "").strip()
    if key and secrets.compare_digest(key.encode(), settings.SANDBOX_API_KEY.encode()):
        return ""
    tenant = tenants.tenant_of_key(key) if key else None
    if tenant is None:
        raise ModelRefusal(401, "Incorrect API key provided.", "invalid_api_key")
    return tenant


def tokens(text: str) -> int:
    """The simulator's token count: about four characters a token, at least one for any text."""
    return math.ceil(len(text) / 4) if text else 0


def text_of(content) -> str:
    """A message's text: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def checked(request) -> dict:
    """The request's body, refused (400, as OpenAI words it) when it is not one."""
    if len(request.body) > MAX_BODY_BYTES:
        raise ModelRefusal(400, "The request is too large.")
    try:
        body = json.loads(request.body or b"null")
    except ValueError as exc:
        raise ModelRefusal(400, "We could not parse the JSON body of your request.") from exc
    if not isinstance(body, dict):
        raise ModelRefusal(400, "The body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"].strip():
        raise ModelRefusal(400, "you must provide a model parameter", "missing_required_parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        raise ModelRefusal(
            400, f"'messages' must be a list of 1 to {MAX_MESSAGES} messages.", "invalid_value"
        )
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise ModelRefusal(400, f"Invalid value for 'messages[{index}].role'.", "invalid_value")
        if not isinstance(message.get("content"), str | list | None):
            raise ModelRefusal(400, f"Invalid type for 'messages[{index}].content'.")
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ModelRefusal(400, "max_tokens must be a positive integer.", "invalid_value")
    return body


def sections_of(text: str) -> dict[str, list[str]]:
    """A system message's sections: the lines under each "## Name" line, by name."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
        elif current is not None and line.strip():
            current.append(line.strip())
    return sections


def grounds_of(sections: dict[str, list[str]]) -> list[tuple[str, str]]:
    """What the prompt lets it answer from, in order: (words to match, text to say) for each
    passage ("[n] heading" then its text) and each fact ("- fact")."""
    grounds = []
    heading = None
    for line in sections.get("Passages", []):
        if PASSAGE_MARK.match(line):
            heading = PASSAGE_MARK.sub("", line)
        elif heading is not None:
            grounds.append((f"{heading} {line}", line))
            heading = None
    for line in sections.get("Facts", []):
        fact = line.removeprefix("- ").strip()
        grounds.append((fact, fact))
    return grounds


def words_of(text: str) -> set[str]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return {word for word in re.findall(r"[a-z0-9]+", plain) if len(word) > 2}


def grounded_answer(system: str, said: str) -> str | None:
    """An answer from the passages and facts of a prompt laid out in "## " sections (as
    assistant/answers.py writes them): the greeting, then the first sentences of the ground
    sharing most words with the customer's (the first, on a tie); None when the prompt has
    no such sections."""
    sections = sections_of(system)
    if "Passages" not in sections and "Facts" not in sections:
        return None
    grounds = grounds_of(sections)
    asked = words_of(said)
    best = max(grounds, key=lambda g: len(asked & words_of(g[0])), default=None)
    said_back = "I do not know."
    if best:
        # Its first sentences: enough to say something ("Sim." alone says little).
        said_back = ""
        for sentence in SENTENCE_END.split(best[1]):
            said_back = f"{said_back} {sentence}".strip()
            if len(said_back) >= SHORTEST_ANSWER:
                break
    greeting = " ".join(sections.get("Greeting", []))
    return f"{greeting} {said_back[:500]}".strip()


TASK = re.compile(r"^Task: ([a-z]+)(?: \(([A-Za-z-]+)\))?$")
# A few misspellings the "fix spelling" rewrite corrects (English and Portuguese).
SPELLING = {
    "teh": "the",
    "recieve": "receive",
    "adress": "address",
    "tommorow": "tomorrow",
    "voce": "você",
    "obrigadp": "obrigado",
    "nao": "não",
    "entao": "então",
}
NEGATIVE = ("angry", "bad", "broken", "late", "refund", "terrible", "atrasad", "péssim", "ruim")
POSITIVE = ("thank", "great", "love", "perfect", "obrigad", "ótimo", "adorei", "perfeito")
TOPICS = [
    (("deliver", "entreg", "shipping", "frete"), "Delivery"),
    (("refund", "reembols", "devolu"), "Refund"),
    (("price", "preço", "preco", "cost", "valor"), "Pricing"),
    (("invoice", "boleto", "payment", "pagamento", "pix"), "Billing"),
]


def task_of(messages: list[dict]) -> tuple[str, str] | None:
    """The helper's task named on the first line of the first system message, if any."""
    for message in messages:
        if message.get("role") == "system":
            first = text_of(message.get("content")).split("\n", 1)[0].strip()
            found = TASK.match(first)
            return (found.group(1), found.group(2) or "") if found else None
    return None


def sentence_case(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def starts_a_word(text: str, stems) -> bool:
    """Whether a word of `text` starts with one of `stems` ("bad" is not in "sábado")."""
    return any(re.search(rf"(?<!\w){re.escape(stem)}", text) for stem in stems)


def do_task(task: str, detail: str, text: str) -> str:
    """A helper's task done by rule on `text`, the same way every time."""
    words = " ".join(text.split())
    folded = words.lower()
    if task == "rewrite" and detail == "friendlier":
        return f"Hi! {sentence_case(words)} Thank you so much!"
    if task == "rewrite" and detail == "shorter":
        first = re.split(r"(?<=[.!?])\s", words, maxsplit=1)[0]
        return first if len(first) <= 120 else first[:119].rstrip() + "…"
    if task == "rewrite":
        fixed = " ".join(SPELLING.get(word.lower(), word) for word in words.split(" "))
        return sentence_case(fixed)
    if task == "translate":
        return f"[{detail}] {words}"
    if task == "summarize":
        lines = [line for line in text.splitlines() if line.strip()]
        said = [
            line.removeprefix("Customer:").strip() for line in lines if line.startswith("Customer:")
        ]
        last = said[-1][:200] if said else ""
        count = f"{len(lines)} message" + ("" if len(lines) == 1 else "s")
        return f"{count}. The customer last said: {last}"
    if task == "classify":
        said = (
            " ".join(line.lower() for line in text.splitlines() if line.startswith("Customer:"))
            or folded
        )
        sentiment = "neutral"
        if starts_a_word(said, NEGATIVE):
            sentiment = "negative"
        elif starts_a_word(said, POSITIVE):
            sentiment = "positive"
        topic = next((name for keys, name in TOPICS if starts_a_word(said, keys)), "General")
        return json.dumps({"sentiment": sentiment, "topic": topic})
    return f"You said: {words[:500]}"


def answer_for(messages: list[dict]) -> str:
    """The simulator's own answer: a helper's task done by rule; else grounded in the prompt's
    passages when it has some (a persona's answer); else the last user message, echoed."""
    task = task_of(messages)
    if task is not None:
        said = "\n".join(
            text_of(m.get("content")) for m in messages if m.get("role") == "user"
        ).strip()
        return do_task(*task, said) if said else "Hello! How can I help?"
    system = "\n".join(
        text_of(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
    )
    for message in reversed(messages):
        if message.get("role") == "user":
            said = " ".join(text_of(message.get("content")).split())
            grounded = grounded_answer(system, said)
            if grounded is not None:
                return grounded
            return f"You said: {said[:500]}" if said else "Hello! How can I help?"
    return "Hello! How can I help?"


def cut(text: str, limit: int | None) -> tuple[str, str]:
    """`text` within `limit` tokens, and the finish reason ("length" when it was cut)."""
    if limit is None or tokens(text) <= limit:
        return text, "stop"
    return text[: limit * 4], "length"


def script_of(tenant: str) -> SandboxModelScript:
    return SandboxModelScript.objects.get_or_create(tenant=tenant)[0]


def next_turn(tenant: str) -> tuple[int | None, int | None, str | None, int]:
    """What this call gets, taken at once so that concurrent calls share the script out: a
    fault status (0: hang) or None, its Retry-After, a scripted reply or None, the latency."""
    with transaction.atomic():
        script = (
            SandboxModelScript.objects.select_for_update().filter(pk=script_of(tenant).pk).get()
        )
        script.calls = F("calls") + 1
        fault = reply = None
        if script.fail_next:
            script.fail_next -= 1
            fault = script.fail_with
        elif script.replies:
            reply, script.replies = script.replies[0], script.replies[1:]
        script.save(update_fields=["calls", "fail_next", "replies"])
        return fault, script.retry_after, reply, script.latency_ms


def usage(prompt: int, completion: int) -> dict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def prompt_tokens(messages: list[dict]) -> int:
    # As OpenAI counts chat messages: a few tokens of framing each, and the reply's priming.
    return sum(4 + tokens(text_of(m.get("content"))) for m in messages) + 3


@csrf_exempt
@require_POST
def chat_completions(request):
    """POST /sandbox/v1/chat/completions: an answer, whole or streamed (server-sent events)."""
    try:
        tenant = caller(request)
        body = checked(request)
    except ModelRefusal as exc:
        return error(exc.status, str(exc), exc.code)
    fault, retry_after, reply, latency_ms = next_turn(tenant)
    if latency_ms:
        time.sleep(latency_ms / 1000)
    if fault == 0:
        # Never answers in time: held longer than any client waits, then answers all the same.
        time.sleep(settings.SANDBOX_HANG_SECONDS)
    elif fault:
        response = error(fault, f"The simulated model answered {fault} on purpose.")
        if retry_after is not None and fault in (429, 503):
            response["Retry-After"] = str(retry_after)
        return response
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    text, finish = cut(reply if reply is not None else answer_for(body["messages"]), limit)
    counted = usage(prompt_tokens(body["messages"]), tokens(text))
    ident = f"chatcmpl-{secrets.token_hex(12)}"
    head = {"id": ident, "created": int(time.time()), "model": body["model"]}
    if body.get("stream") is True:
        options = body.get("stream_options")
        with_usage = isinstance(options, dict) and options.get("include_usage") is True
        response = StreamingHttpResponse(
            events(head, text, finish, counted if with_usage else None),
            content_type="text/event-stream",
        )
        response["Cache-Control"] = "no-cache"
        return response
    return JsonResponse(
        {
            **head,
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": text,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": counted,
            "service_tier": "default",
            "system_fingerprint": None,
        }
    )


def events(head: dict, text: str, finish: str, counted: dict | None):
    """The answer as OpenAI streams it: a first chunk with the role, the text a word at a time,
    a last chunk with the finish reason, the usage chunk (empty choices) when asked, [DONE]."""

    def chunk(choices: list, **extra) -> bytes:
        data = {**head, "object": "chat.completion.chunk", "system_fingerprint": None}
        data.update(choices=choices, **extra)
        return f"data: {json.dumps(data)}\n\n".encode()

    def delta(content: dict, reason: str | None = None) -> list:
        return [{"index": 0, "delta": content, "logprobs": None, "finish_reason": reason}]

    extra = {"usage": None} if counted else {}
    yield chunk(delta({"role": "assistant", "content": "", "refusal": None}), **extra)
    words = text.split(" ")
    for index, word in enumerate(words):
        yield chunk(delta({"content": word if index == 0 else " " + word}), **extra)
    yield chunk(delta({}, finish), **extra)
    if counted:
        yield chunk([], usage=counted)
    yield b"data: [DONE]\n\n"


@csrf_exempt
@require_GET
def models(request):
    """GET /sandbox/v1/models: the one model it plays."""
    try:
        caller(request)
    except ModelRefusal as exc:
        return error(exc.status, str(exc), exc.code)
    entry = {"id": MODEL, "object": "model", "created": 0, "owned_by": "conversa"}
    return JsonResponse({"object": "list", "data": [entry]})


def bounded(body: dict, name: str, most: int, allow_none: bool = False):
    value = body[name]
    if value is None and allow_none:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= most:
        raise ModelRefusal(400, f"{name} must be a whole number from 0 to {most}")
    return value


@csrf_exempt
@require_http_methods(["GET", "POST"])
def faults(request):
    """The caller's script: GET reads it, POST changes the fields it gives {fail_next,
    fail_with (an HTTP status, or 0: no answer in time), retry_after, replies, latency_ms}
    and, with {"reset": true}, starts from a clean script (the call count too)."""
    try:
        tenant = caller(request)
        script = script_of(tenant)
        if request.method == "POST":
            try:
                body = json.loads(request.body or b"{}")
            except ValueError as exc:
                raise ModelRefusal(400, "The body is not JSON.") from exc
            if not isinstance(body, dict):
                raise ModelRefusal(400, "The body must be a JSON object.")
            if body.get("reset") is True:
                script.delete()
                script = script_of(tenant)
            if "fail_next" in body:
                script.fail_next = bounded(body, "fail_next", MAX_FAIL_NEXT)
            if "fail_with" in body:
                if body["fail_with"] not in FAULT_STATUSES or isinstance(body["fail_with"], bool):
                    raise ModelRefusal(400, f"fail_with is one of {sorted(FAULT_STATUSES)}")
                script.fail_with = body["fail_with"]
            if "retry_after" in body:
                script.retry_after = bounded(body, "retry_after", MAX_RETRY_AFTER, True)
            if "latency_ms" in body:
                script.latency_ms = bounded(body, "latency_ms", MAX_LATENCY_MS)
            if "replies" in body:
                replies = body["replies"]
                if (
                    not isinstance(replies, list)
                    or len(replies) > MAX_REPLIES
                    or not all(isinstance(r, str) and len(r) <= MAX_REPLY_LENGTH for r in replies)
                ):
                    raise ModelRefusal(
                        400,
                        f"replies is a list of at most {MAX_REPLIES} texts of at most "
                        f"{MAX_REPLY_LENGTH} characters",
                    )
                script.replies = replies
            script.save()
    except ModelRefusal as exc:
        return error(exc.status, str(exc), exc.code)
    fields = ("fail_next", "fail_with", "retry_after", "replies", "latency_ms", "calls")
    return JsonResponse({name: getattr(script, name) for name in fields})
