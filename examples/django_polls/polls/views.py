"""The polls pages, plus three JSON views Puff's own checks drive: ``bench`` (a fixed ORM
workload), ``atomic_probe`` (transaction isolation between concurrent requests) and
``cache_probe`` (the Redis cache backend)."""

import time
import uuid
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views import generic
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Choice, Question


def published_questions() -> QuerySet[Question]:
    """Questions whose pub_date has come: a question scheduled for later stays hidden,
    from the list and from its own pages."""
    return Question.objects.filter(pub_date__lte=timezone.now())


class IndexView(generic.ListView):
    template_name = "polls/index.html"
    context_object_name = "latest_question_list"

    def get_queryset(self) -> QuerySet[Question]:
        """The five most recently published questions."""
        return published_questions().order_by("-pub_date")[:5]


class DetailView(generic.DetailView):
    model = Question
    template_name = "polls/detail.html"

    def get_queryset(self) -> QuerySet[Question]:
        return published_questions()


class ResultsView(generic.DetailView):
    model = Question
    template_name = "polls/results.html"

    def get_queryset(self) -> QuerySet[Question]:
        return published_questions()


@require_POST
def vote(request: HttpRequest, pk: int) -> HttpResponse:
    """Count one vote, then redirect, so reloading the results page cannot vote twice."""
    question = get_object_or_404(published_questions(), pk=pk)
    try:
        selected = question.choice_set.get(pk=request.POST["choice"])
    except (KeyError, ValueError, TypeError, Choice.DoesNotExist):
        return render(
            request,
            "polls/detail.html",
            {"question": question, "error_message": "You didn't select a choice."},
        )
    # Incremented by the database (UPDATE ... SET votes = votes + 1), so simultaneous
    # votes are never lost to a read-modify-write race.
    Choice.objects.filter(pk=selected.pk).update(votes=F("votes") + 1)
    return HttpResponseRedirect(reverse("polls:results", args=(question.id,)))


def bench(request: HttpRequest) -> JsonResponse:
    """The view ``cargo xtask bench django`` measures: exactly three ORM queries (the five
    latest questions, their choices, the question count) and a JSON response, a typical
    small page's worth of database work."""
    questions = list(Question.objects.order_by("-pub_date")[:5])
    ids = [q.id for q in questions]
    choices: dict[int, list[dict[str, Any]]] = {qid: [] for qid in ids}
    for choice in list(Choice.objects.filter(question__in=ids).order_by("id")):
        choices[choice.question_id].append(
            {"id": choice.id, "choice_text": choice.choice_text, "votes": choice.votes}
        )
    total = Question.objects.count()
    return JsonResponse(
        {
            "questions": [
                {"id": q.id, "question_text": q.question_text, "choices": choices[q.id]}
                for q in questions
            ],
            "total": total,
        }
    )


def bench_wait(request: HttpRequest) -> JsonResponse:
    """The view ``cargo xtask bench django`` case (b) measures: a page that waits on
    Postgres. One ``pg_sleep(0.02)`` (a slow query: 20 ms in the database) and two ORM
    queries (the five latest questions, the question count), a JSON response."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0.02)")
    questions = list(Question.objects.order_by("-pub_date")[:5])
    total = Question.objects.count()
    return JsonResponse(
        {
            "questions": [
                {"id": q.id, "question_text": q.question_text} for q in questions
            ],
            "total": total,
        }
    )


def _pause(ms: int) -> None:
    """Wait ``ms`` milliseconds, letting the other requests' greenlets run meanwhile under
    Puff; elsewhere (no runtime, or not in a greenlet) just block this thread."""
    try:
        import puff

        puff.sleep_ms(ms)
    except Exception:
        time.sleep(ms / 1000)


@csrf_exempt
@require_POST
def atomic_probe(request: HttpRequest) -> JsonResponse:
    """For the concurrency test: every request must run its transaction on a connection of
    its own. Each one inserts a row, pauses so the others interleave, then lists the rows
    it can see and rolls back. With one connection per request, a response sees only its
    own uncommitted row (and reports its own backend pid); a transaction shared between
    greenlets would show the other requests' rows too."""
    token = request.POST.get("token")
    if not token:
        return JsonResponse({"error": "POST a `token`"}, status=400)
    try:
        sleep_ms = int(request.POST.get("sleep_ms", "20"))
    except ValueError:
        return JsonResponse({"error": "`sleep_ms` must be an integer"}, status=400)
    with transaction.atomic():
        Question.objects.create(
            question_text=f"atomic-{token}", pub_date=timezone.now()
        )
        _pause(sleep_ms)
        seen = sorted(
            Question.objects.filter(question_text__startswith="atomic-").values_list(
                "question_text", flat=True
            )
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            row = cursor.fetchone()
        # Leave nothing behind: the row existed only inside this transaction.
        transaction.set_rollback(True)
    return JsonResponse({"token": token, "seen": seen, "pid": row[0] if row else None})


def cache_probe(request: HttpRequest) -> JsonResponse:
    """A round trip through ``django.core.cache`` (under Puff: PuffRedisCache on the
    ``default`` Redis pool). The key is unique per request, so concurrent probes cannot
    read each other's value."""
    value = request.GET.get("value", "hello from the cache")
    key = f"cache-probe:{uuid.uuid4().hex}"
    cache.set(key, value, timeout=60)
    try:
        return JsonResponse({"value": cache.get(key)})
    finally:
        cache.delete(key)
