"""The transcript page and the staff actions on it: review, tag, note, correct an intent."""
from __future__ import annotations

import re

from transcripts.models import AuditEvent, ConversationTag, IntentCorrection, Note, ReviewEvent


def page(client, conversation_id: str) -> str:
    response = client.get("/conversation/", {"id": conversation_id})
    assert response.status_code == 200
    return response.content.decode()


def record_section(html: str) -> str:
    return re.search(r'<section class="record[^"]*"(.*?)</section>', html, re.S).group(1)


def test_triage_record_is_on_top(clinic, clinician, client_for):
    html = page(client_for(clinician), "conv-stairs")
    record = record_section(html)
    assert html.index("id=\"record-heading\"") < html.index("id=\"transcript-heading\"")
    for shown in ("consultation", "stairs", "around_kneecap", "gradual", "6.0", "callback", "pending"):
        assert shown in record
    assert 'class="record urgent"' not in html  # an ordinary case does not look urgent


def test_urgent_record_stands_out(clinic, clinician, client_for):
    html = page(client_for(clinician), "conv-infection")
    assert 'class="record urgent"' in html
    record = record_section(html)
    assert "emergency" in record and '<span class="flag">infection</span>' in record
    assert "The bot asked for staff review" in record
    assert re.search(r"Duration \(weeks\)</dt><dd>not recorded</dd>", record)


def test_each_turn_shows_nlu_findings_replies_and_slots(clinic, clinician, client_for):
    html = page(client_for(clinician), "conv-stairs")
    assert "My knee hurts around the kneecap on stairs, no fever though" in html
    assert '<span class="badge">pain_on_stairs</span>' in html and "confidence 0.93" in html
    assert '<span class="badge">pain_trigger</span> = stairs' in html
    # The negated red flag is shown with its modifier and as not counted.
    finding = re.search(r'<li class="not-asserted">(.*?)</li>', html, re.S).group(1)
    assert "infection" in finding and "fever: negated" in finding and "not counted" in finding
    assert "How long has it hurt?" in html and "Under 6 weeks" in html
    assert "pain_triggers = <strong>stairs</strong>" in html
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT', html)


def test_each_finding_says_which_red_flag_net_found_it(clinic, clinician, client_for):
    html = page(client_for(clinician), "conv-infection")
    findings = re.findall(r'<li class="(?:not-)?asserted">(.*?)</li>', html, re.S)
    assert sum("found by the rules" in f for f in findings) == 2
    [learned] = [f for f in findings if "found by the learned net" in f]
    assert "cancer_signs" in learned and "the learned net, 0.52" in learned and "not counted" in learned


def test_fallback_and_low_confidence_are_marked(clinic, clinician, client_for):
    html = page(client_for(clinician), "conv-fallback")
    assert "fallback: the bot did not understand" in html
    assert '<span class="warn-text">confidence 0.55</span>' in html  # under the 0.6 threshold


def test_patient_text_is_escaped(clinic, clinician, client_for):
    client = client_for(clinician)
    for html in (page(client, "conv-xss"), client.get("/").content.decode()):
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    response = client.get("/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "no-store"


def test_unknown_conversation_is_not_found(clinic, clinician, client_for):
    client = client_for(clinician)
    assert client.get("/conversation/", {"id": "no-such-conversation"}).status_code == 404
    assert client.get("/conversation/", {"id": "' OR '1'='1"}).status_code == 404
    assert client.get("/conversation/").status_code == 404


def test_viewing_is_audited(clinic, clinician, client_for):
    page(client_for(clinician), "conv-stairs")
    assert AuditEvent.objects.filter(username="casey", action="view", conversation_id="conv-stairs").count() == 1


def test_review_tag_and_note(clinic, clinician, client_for):
    client = client_for(clinician)
    client.post("/conversation/review/", {"conversation_id": "conv-infection", "reviewed": "1"})
    client.post("/conversation/tag/", {"conversation_id": "conv-infection", "tag": "Follow up"})
    client.post("/conversation/note/", {"conversation_id": "conv-infection", "text": "Called patient <b>today</b>."})
    html = page(client, "conv-infection")
    assert "Reviewed by casey" in html
    assert '<span class="tag">follow up</span>' in html
    assert "Called patient &lt;b&gt;today&lt;/b&gt;." in html
    assert ReviewEvent.objects.get(conversation_id="conv-infection").reviewed
    assert Note.objects.get(conversation_id="conv-infection").author == "casey"
    # The queue shows the tag and the review; removing the tag removes it.
    queue = client.get("/").content.decode()
    assert "Reviewed by casey" in queue and '<span class="tag">follow up</span>' in queue
    client.post("/conversation/tag/", {"conversation_id": "conv-infection", "tag": "follow up", "remove": "1"})
    assert not ConversationTag.objects.filter(conversation_id="conv-infection").exists()
    actions = set(AuditEvent.objects.filter(conversation_id="conv-infection").values_list("action", flat=True))
    assert {"mark_reviewed", "tag", "untag", "note", "view"} <= actions


def test_actions_on_unknown_conversations_are_refused(clinic, clinician, client_for):
    client = client_for(clinician)
    assert client.post("/conversation/note/", {"conversation_id": "made-up", "text": "x"}).status_code == 404
    assert client.post("/conversation/review/", {"conversation_id": "made-up"}).status_code == 404
    assert not Note.objects.exists() and not ReviewEvent.objects.exists()


def user_event_id(client, conversation_id: str, text: str) -> int:
    html = page(client, conversation_id)
    for event_id, body in re.findall(r'id="message-(\d+)"(.*?)</article>', html, re.S):
        if text in body:
            return int(event_id)
    raise AssertionError(f"no message {text!r}")


def test_correct_an_intent(clinic, clinician, client_for):
    client = client_for(clinician)
    event_id = user_event_id(client, "conv-fallback", "asdf qwer zxcv")
    response = client.post("/conversation/correct/", {
        "conversation_id": "conv-fallback", "event_id": event_id, "intent": "out_of_scope",
        "text": "forged text is ignored",
    })
    assert response.status_code == 302
    correction = IntentCorrection.objects.get(event_id=event_id)
    assert (correction.text, correction.original_intent, correction.corrected_intent) == (
        "asdf qwer zxcv", "nlu_fallback", "out_of_scope")
    assert "Corrected to <span class=\"badge\">out_of_scope</span> by casey" in page(client, "conv-fallback")


def test_the_correction_field_offers_every_intent_the_bot_has(clinic, clinician, client_for):
    # A misread answer to a triage question is corrected to inform; a fees question to
    # ask_clinic_info: both must be offered, not only the contract's minimum set.
    html = page(client_for(clinician), "conv-fallback")
    for intent in ("inform", "skip", "unsure", "stop", "ask_clinic_info", "pain_on_stairs"):
        assert f'<option value="{intent}">' in html, intent


def test_corrections_must_name_a_message_of_that_conversation(clinic, clinician, client_for):
    client = client_for(clinician)
    other_event = user_event_id(client, "conv-stairs", "no fever though")
    assert client.post("/conversation/correct/", {
        "conversation_id": "conv-fallback", "event_id": other_event, "intent": "greet"}).status_code == 404
    client.post("/conversation/correct/", {
        "conversation_id": "conv-stairs", "event_id": other_event, "intent": "greet'; DROP TABLE events;--"})
    client.post("/conversation/correct/", {
        "conversation_id": "conv-stairs", "event_id": other_event, "intent": "nlu_fallback"})
    assert not IntentCorrection.objects.exists()


def test_a_message_the_knee_topic_rule_took_up_says_so(db, stores, clinician, client_for):
    from review_fixtures import Script, build_tracker_db

    text = "the knee thing is back, cant do the steps at work"
    conversation = (Script("conv-rescued").user(text, "pain_on_stairs", 0.6, knee_topic={
        "classified_as": "nlu_fallback", "rescued_as": "pain_on_stairs"}).bot("Pain on stairs is common.")
        .user("thanks", "thank", 0.97))
    build_tracker_db(stores[0], [conversation.conversation])
    html = page(client_for(clinician), "conv-rescued")
    assert "the model said nlu_fallback; the knee-topic rule took it up as a knee message" in html
    assert html.count("knee-topic rule") == 1, "only on the message the rule changed"


def test_a_message_the_language_check_took_says_so(db, stores, clinician, client_for):
    from review_fixtures import Script, build_tracker_db

    conversation = (Script("conv-spanish").user("me duele la rodilla cuando subo escaleras", "other_language", 1.0,
                                                language={"detected": "es", "classified_as": "ask_vmo"})
                    .bot("Sorry, I can only chat in English.").user("thanks", "thank", 0.97))
    build_tracker_db(stores[0], [conversation.conversation])
    html = page(client_for(clinician), "conv-spanish")
    assert "the model said ask_vmo; the language check read it as another language (es)" in html
    assert html.count("language check") == 1, "only on the message the check changed"


def test_an_sms_conversation_shows_the_patients_number(db, stores, clinician, client_for):
    # The conversation id of an SMS is a pseudonym (channels/twilio.py), so that alerts and logs
    # carry no phone number; staff who need to call the patient find it here.
    from channels.twilio import FROM_METADATA_KEY, conversation_id_for
    from review_fixtures import Script, build_tracker_db

    sms_id = conversation_id_for("+61412345678", "test-key")
    conversations = [
        Script(sms_id).user("my knee hurts on stairs", "pain_on_stairs", channel="twilio",
                            metadata={FROM_METADATA_KEY: "+61412345678"}).bot("Sorry to hear that.").done(),
        Script("conv-web").user("my knee hurts on stairs", "pain_on_stairs").bot("Sorry to hear that.").done(),
    ]
    build_tracker_db(stores[0], conversations)
    client = client_for(clinician)
    html = page(client, sms_id)
    assert "+61412345678" not in sms_id
    assert re.search(r'Patient.s number \(from their messages\): <a href="tel:\+61412345678">\+61412345678</a>',
                     html)
    web = page(client, "conv-web")
    assert "number (from their messages)" not in web and "tel:" not in web


def test_a_message_the_two_classifiers_disagreed_on_says_so(db, stores, clinician, client_for):
    # components/intent_ensemble.py keeps both first choices (DIET's, then the regression's); the
    # average of the two confidences for each intent decided.
    from review_fixtures import Script, build_tracker_db

    votes = [{"name": "book_appointment", "confidence": 0.55}, {"name": "out_of_scope", "confidence": 0.81}]
    agreed = [{"name": "pain_on_stairs", "confidence": 0.9}, {"name": "pain_on_stairs", "confidence": 0.7}]
    conversation = (Script("conv-votes").user("book me a table for two", "out_of_scope", 0.81, intent_votes=votes)
                    .bot("I can only help with knee pain.")
                    .user("my knee hurts on stairs", "pain_on_stairs", 0.9, intent_votes=agreed).done())
    build_tracker_db(stores[0], [conversation])
    html = page(client_for(clinician), "conv-votes")
    assert ("the two classifiers disagreed: DIET said book_appointment 0.55, the regression out_of_scope "
            "0.81; the average of their confidences decided") in html
    assert html.count("classifiers disagreed") == 1, "not where they agreed"


def test_a_number_in_metadata_is_shown_only_for_messages_the_twilio_channel_took_in(
        db, stores, clinician, client_for):
    # The website widget and the REST channel pass on metadata the sender wrote: a caller could
    # put any number under twilio_from. Only the Twilio channel sets it itself (after checking
    # Twilio's signature), so only there is it the patient's number.
    from channels.twilio import FROM_METADATA_KEY, SignedTwilioInput
    from review_fixtures import Script, build_tracker_db

    from transcripts.conversation import TWILIO_CHANNEL, TWILIO_FROM_KEY

    assert (TWILIO_CHANNEL, TWILIO_FROM_KEY) == (SignedTwilioInput.name(), FROM_METADATA_KEY)
    planted = {FROM_METADATA_KEY: "+61499999999"}
    conversations = [
        Script(f"conv-{channel}").user("please call me", "request_human", channel=channel, metadata=planted)
        .bot("Sure.").done()
        for channel in ("rest", "socketio", "telegram", "facebook", "")
    ]
    build_tracker_db(stores[0], conversations)
    client = client_for(clinician)
    for conversation in conversations:
        html = page(client, conversation.sender_id)
        assert "+61499999999" not in html and "tel:" not in html and "number (from their messages)" not in html
