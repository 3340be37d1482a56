"""Fuzzing every route with hypothesis, on SQLite and PostgreSQL: no request may end in a 500,
and no correctly signed inbound SMS may go unstored. Routes come from `app.url_map`, so a new
route is fuzzed as soon as it exists; each gets a bounded number of examples, signed and not."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzzing import AWKWARD, PLAUSIBLE, SECRETS, check, random_case, routes, set_up, sms_case

EXAMPLES_PER_ROUTE = 7
SMS_EXAMPLES = 40
FUZZ = settings(max_examples=EXAMPLES_PER_ROUTE, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


@pytest.fixture
def fuzzed(make_app, any_app):
    """`any_app` with every provider's secret set (so signed requests get in), the demo commune and reports."""
    app = make_app(DATABASE_URL=any_app.config["DATABASE_URL"], REDIS_URL=any_app.config["REDIS_URL"], **SECRETS)
    app.testing = False  # answer 500 like a real server instead of raising into the test
    return app, app.test_client(), set_up(app)


def values():
    """Hypothesis text: awkward and plausible values, any text, and numbers past every integer type."""
    return st.one_of(st.sampled_from(AWKWARD + PLAUSIBLE), st.text(max_size=60),
                     st.integers(min_value=-10**22, max_value=10**22).map(str))


def test_no_route_answers_500(fuzzed):
    app, client, token = fuzzed
    table = routes(app)
    assert len(table) > 40 and any(rule.rule == "/sms/inbound" for rule, _ in table)

    for rule, method in table:
        @FUZZ
        @given(rng=st.randoms(use_true_random=False), extra=values(), name=st.sampled_from(["Body", "From", "area",
                                                                                            "text", "q"]))
        def fuzz_route(rng, extra, name):
            case = random_case(rng, rule, method, sms_from="+84912345678")
            (case.args if method == "GET" else case.form).append((name, extra))
            problem, _ = check(app, client, case, token)
            assert problem is None, f"{method} {rule.rule}: {problem} for {case}"

        fuzz_route()


def test_every_signed_inbound_sms_is_stored(fuzzed):
    app, client, token = fuzzed
    twilio = next(rule for rule, method in routes(app) if rule.rule == "/sms/inbound")
    android = next(rule for rule, method in routes(app) if rule.rule == "/sms/android")

    @settings(FUZZ, max_examples=SMS_EXAMPLES)
    @given(rng=st.randoms(use_true_random=False), body=values(), sender=values() | st.sampled_from(
        ["+84912345678", "0912 345 678", "84987654321", "01623456789"]), via_android=st.booleans())
    def fuzz_sms(rng, body, sender, via_android):
        case = sms_case(rng, random_case(rng, android if via_android else twilio, "POST"))
        if via_android:
            case.json_body["payload"] = {"message": body, "sender": sender}
        else:
            case.form = [pair for pair in case.form if pair[0] not in ("From", "Body")] + [("From", sender),
                                                                                          ("Body", body)]
        problem, _ = check(app, client, case, token)
        assert problem is None, f"{problem} for {case}"

    fuzz_sms()
