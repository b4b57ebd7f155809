"""Tests for the polls app: plain ``django.test.TestCase`` classes, so they run under
``manage.py test`` and under pytest-django (``puff-cli ... pytest examples/django_polls``)
alike."""

import datetime
import time

from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from .models import Choice, Question


def create_question(question_text: str, days: float) -> Question:
    """A question published ``days`` from now (negative: in the past, positive: not yet)."""
    when = timezone.now() + datetime.timedelta(days=days)
    return Question.objects.create(question_text=question_text, pub_date=when)


class QuestionModelTests(TestCase):
    def test_was_published_recently_with_future_question(self) -> None:
        future = Question(pub_date=timezone.now() + datetime.timedelta(days=30))
        self.assertIs(future.was_published_recently(), False)

    def test_was_published_recently_with_old_question(self) -> None:
        old = Question(pub_date=timezone.now() - datetime.timedelta(days=1, seconds=1))
        self.assertIs(old.was_published_recently(), False)

    def test_was_published_recently_with_recent_question(self) -> None:
        recent = Question(
            pub_date=timezone.now()
            - datetime.timedelta(hours=23, minutes=59, seconds=59)
        )
        self.assertIs(recent.was_published_recently(), True)


class IndexViewTests(TestCase):
    def test_no_questions(self) -> None:
        response = self.client.get(reverse("polls:index"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "No polls are available.")
        self.assertQuerySetEqual(response.context["latest_question_list"], [])

    def test_past_question_is_listed(self) -> None:
        question = create_question("Past question.", days=-30)
        response = self.client.get(reverse("polls:index"))
        self.assertQuerySetEqual(response.context["latest_question_list"], [question])

    def test_future_question_is_hidden(self) -> None:
        create_question("Future question.", days=30)
        response = self.client.get(reverse("polls:index"))
        self.assertContains(response, "No polls are available.")
        self.assertQuerySetEqual(response.context["latest_question_list"], [])

    def test_past_and_future_question(self) -> None:
        past = create_question("Past question.", days=-30)
        create_question("Future question.", days=30)
        response = self.client.get(reverse("polls:index"))
        self.assertQuerySetEqual(response.context["latest_question_list"], [past])

    def test_newest_first_and_at_most_five(self) -> None:
        questions = [create_question(f"Question {n}.", days=-n) for n in range(1, 8)]
        response = self.client.get(reverse("polls:index"))
        self.assertQuerySetEqual(
            response.context["latest_question_list"], questions[:5]
        )

    def test_root_redirects_to_polls(self) -> None:
        response = self.client.get("/")
        self.assertRedirects(response, reverse("polls:index"))


class DetailViewTests(TestCase):
    def test_future_question_is_404(self) -> None:
        future = create_question("Future question.", days=5)
        response = self.client.get(reverse("polls:detail", args=(future.id,)))
        self.assertEqual(response.status_code, 404)

    def test_past_question_is_shown(self) -> None:
        past = create_question("Past question.", days=-5)
        past.choice_set.create(choice_text="Yes")
        response = self.client.get(reverse("polls:detail", args=(past.id,)))
        self.assertContains(response, past.question_text)
        self.assertContains(response, "Yes")
        self.assertContains(response, "csrfmiddlewaretoken")

    def test_results_of_future_question_is_404(self) -> None:
        future = create_question("Future question.", days=5)
        response = self.client.get(reverse("polls:results", args=(future.id,)))
        self.assertEqual(response.status_code, 404)


class VoteViewTests(TestCase):
    def setUp(self) -> None:
        self.question = create_question("Tabs or spaces?", days=-1)
        self.tabs = self.question.choice_set.create(choice_text="Tabs")
        self.spaces = self.question.choice_set.create(choice_text="Spaces", votes=2)

    def test_vote_increments_and_redirects(self) -> None:
        url = reverse("polls:vote", args=(self.question.id,))
        response = self.client.post(url, {"choice": self.spaces.id})
        self.assertRedirects(
            response, reverse("polls:results", args=(self.question.id,))
        )
        self.spaces.refresh_from_db()
        self.tabs.refresh_from_db()
        self.assertEqual(self.spaces.votes, 3)
        self.assertEqual(self.tabs.votes, 0)

    def test_results_show_the_votes(self) -> None:
        self.client.post(
            reverse("polls:vote", args=(self.question.id,)), {"choice": self.tabs.id}
        )
        response = self.client.get(reverse("polls:results", args=(self.question.id,)))
        self.assertContains(response, "Tabs: 1 vote<")
        self.assertContains(response, "Spaces: 2 votes")

    def test_missing_choice_shows_error(self) -> None:
        response = self.client.post(reverse("polls:vote", args=(self.question.id,)), {})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "You didn&#x27;t select a choice.")
        self.assertEqual(Choice.objects.filter(votes__gt=0).count(), 1)

    def test_choice_of_another_question_is_rejected(self) -> None:
        other = create_question("Other?", days=-1).choice_set.create(
            choice_text="Other"
        )
        response = self.client.post(
            reverse("polls:vote", args=(self.question.id,)), {"choice": other.id}
        )
        self.assertContains(response, "You didn&#x27;t select a choice.")
        other.refresh_from_db()
        self.assertEqual(other.votes, 0)

    def test_get_is_not_allowed(self) -> None:
        response = self.client.get(reverse("polls:vote", args=(self.question.id,)))
        self.assertEqual(response.status_code, 405)


class BenchViewTests(TestCase):
    def test_shape_and_counts(self) -> None:
        # Seven questions, the n-th with n % 3 choices; only the newest five are returned.
        for n in range(1, 8):
            question = create_question(f"Question {n}?", days=-n)
            for c in range(n % 3):
                question.choice_set.create(choice_text=f"Choice {n}.{c}", votes=c)
        with self.assertNumQueries(3):
            response = self.client.get(reverse("polls:bench"))
        self.assertEqual(response.status_code, 200)
        data = response.json()
        self.assertEqual(data["total"], 7)
        self.assertEqual(
            [q["question_text"] for q in data["questions"]],
            [f"Question {n}?" for n in range(1, 6)],
        )
        self.assertEqual(
            [len(q["choices"]) for q in data["questions"]], [1, 2, 0, 1, 2]
        )
        for q in data["questions"]:
            self.assertEqual(set(q), {"id", "question_text", "choices"})
            for choice in q["choices"]:
                self.assertEqual(set(choice), {"id", "choice_text", "votes"})
        self.assertEqual(
            data["questions"][1]["choices"],
            [
                {"id": c.id, "choice_text": c.choice_text, "votes": c.votes}
                for c in Choice.objects.filter(
                    question__question_text="Question 2?"
                ).order_by("id")
            ],
        )


class BenchWaitViewTests(TestCase):
    def test_waits_then_answers_with_two_orm_queries(self) -> None:
        for n in range(1, 8):
            create_question(f"Question {n}?", days=-n)
        started = time.monotonic()
        # pg_sleep plus the two ORM queries.
        with self.assertNumQueries(3):
            response = self.client.get(reverse("polls:bench_wait"))
        self.assertGreaterEqual(time.monotonic() - started, 0.02)
        self.assertEqual(response.status_code, 200)
        data = response.json()
        self.assertEqual(data["total"], 7)
        self.assertEqual(
            [q["question_text"] for q in data["questions"]],
            [f"Question {n}?" for n in range(1, 6)],
        )
