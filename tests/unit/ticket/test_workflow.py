"""The ticket workflow: [ticket-workflow] read as Trac 1.6 reads it, the actions a user may
take, the action forms (Trac's field names) and their changes, and the Workflow macro."""

from __future__ import annotations

import logging
import re

import pytest

from codeyard.perm import PermissionCache, PermissionSystem
from codeyard.sessions import create_session
from codeyard.ticket import workflow as wf
from codeyard.ticket.workflow import (
    WorkflowError,
    action_controls,
    apply_action,
    available_actions,
    parse_workflow,
)
from codeyard.util.href import Href
from codeyard.wiki.api import FormatContext
from codeyard.wiki.formatter import format_to_html

OPEN_STATES = ("new", "assigned", "accepted", "reopened")


class Perm:
    """A reader holding exactly ``actions``."""

    def __init__(self, *actions: str) -> None:
        self.actions = set(actions)

    def has(self, action, resource=None) -> bool:
        return action in self.actions


def names(actions) -> list[str]:
    return [a.name for a in actions]


def ticket(status="new", owner="bob", **more):
    return {"id": 1, "status": status, "owner": owner, "reporter": "rita", "resolution": "",
            "component": "", **more}


def set_workflow(env, options: dict[str, str]) -> None:
    for key, _ in env.config.options("ticket-workflow"):
        env.config.remove("ticket-workflow", key)
    for key, value in options.items():
        env.config.set("ticket-workflow", key, value)
    env.config.save()


# -- the default workflow, state by state (TRAC-PARITY.md) ---------------------------------

@pytest.mark.parametrize("status", OPEN_STATES)
def test_open_states_offer_leave_resolve_reassign_accept_to_modifiers(env, status):
    actions = available_actions(env, ticket(status), Perm("TICKET_MODIFY"), "alice")
    # Trac's order: .default highest first, ties by name in reverse.
    assert names(actions) == ["leave", "resolve", "reassign", "accept"]


@pytest.mark.parametrize("status", OPEN_STATES)
def test_open_states_offer_only_leave_without_ticket_modify(env, status):
    assert names(available_actions(env, ticket(status), Perm("TICKET_CREATE"), "a")) == ["leave"]


def test_closed_tickets_offer_leave_and_reopen(env):
    closed = ticket("closed", resolution="fixed")
    assert names(available_actions(env, closed, Perm("TICKET_CREATE"), "a")) == ["leave", "reopen"]
    assert names(available_actions(env, closed, Perm("TICKET_VIEW"), "a")) == ["leave"]


def test_creating_offers_create_and_assign(env):
    new = {"status": None, "owner": "", "reporter": "a"}
    assert names(available_actions(env, new, Perm("TICKET_MODIFY"), "a", creating=True)) == \
        ["create", "create_and_assign"]
    assert names(available_actions(env, new, Perm("TICKET_CREATE"), "a", creating=True)) == \
        ["create"]


def test_accepting_again_is_not_offered(env):
    mine = ticket("accepted", owner="alice")
    assert "accept" not in names(available_actions(env, mine, Perm("TICKET_MODIFY"), "alice"))
    assert "accept" in names(available_actions(env, mine, Perm("TICKET_MODIFY"), "bob"))


def test_real_permission_cache(env):
    # The default grants: anonymous may view and create, authenticated users modify too.
    anonymous = PermissionCache(env, "anonymous")
    assert names(available_actions(env, ticket(), anonymous, "anonymous")) == ["leave"]
    assert names(available_actions(env, ticket("closed"), anonymous, "anonymous")) == ["leave"]
    dev = PermissionCache(env, "dev")
    assert "resolve" in names(available_actions(env, ticket(), dev, "dev"))


def test_a_status_the_workflow_lost_offers_reset_to_admins(env):
    odd = ticket("testing")
    assert names(available_actions(env, odd, Perm("TICKET_MODIFY"), "a")) == ["leave"]
    assert names(available_actions(env, odd, Perm("TICKET_ADMIN"), "a")) == ["leave", "_reset"]
    control = action_controls(env, "_reset", odd, "a")
    assert control.parts[0].text == "from invalid state"
    assert control.hint == "Current state no longer exists. Next status will be 'new'."
    assert apply_action(env, "_reset", odd, {}, "a", Perm("TICKET_ADMIN")) == {"status": "new"}


# -- the forms: Trac's field names, hints, values ------------------------------------------

def test_default_action_controls(env):
    t = ticket("new", owner="bob")
    leave = action_controls(env, "leave", t, "alice")
    assert [p.text for p in leave.parts] == ["as new"] and leave.inputs == []
    assert leave.hint == "The owner will remain bob."

    resolve = action_controls(env, "resolve", t, "alice")
    (field,) = resolve.inputs
    assert (field.name, field.kind, field.value) == ("action_resolve_resolve_resolution",
                                                      "select", "fixed")
    assert field.options == ["fixed", "invalid", "wontfix", "duplicate", "worksforme"]
    assert resolve.hint == "The resolution will be set. Next status will be 'closed'."

    reassign = action_controls(env, "reassign", t, "alice")
    (field,) = reassign.inputs
    assert (field.name, field.kind, field.value) == ("action_reassign_reassign_owner",
                                                      "text", "alice")
    assert reassign.hint == ("The owner will be changed from bob to the specified user. "
                             "Next status will be 'assigned'.")

    accept = action_controls(env, "accept", t, "alice")
    assert accept.inputs == []
    assert accept.hint == "The owner will be changed from bob to alice. Next status will be 'accepted'."

    reopen = action_controls(env, "reopen", ticket("closed", resolution="fixed"), "alice")
    assert reopen.hint == "The resolution will be deleted. Next status will be 'reopened'."


def test_form_values_are_kept(env):
    form = {"action_resolve_resolve_resolution": "wontfix", "action_reassign_reassign_owner": "x"}
    assert action_controls(env, "resolve", ticket(), "a", form).inputs[0].value == "wontfix"
    assert action_controls(env, "reassign", ticket(), "a", form).inputs[0].value == "x"


def test_creation_controls(env):
    new = {"status": None, "owner": ""}
    assert action_controls(env, "create", new, "a").hint == "The status will be 'new'."
    assign = action_controls(env, "create_and_assign", new, "a")
    assert assign.label == "assign"
    assert assign.inputs[0].name == "action_create_and_assign_reassign_owner"
    assert assign.inputs[0].value == "< default >"
    assert assign.hint == "The owner will be the specified user. The status will be 'assigned'."


def test_leave_without_owner(env):
    assert action_controls(env, "leave", ticket(owner=""), "a").hint == \
        "The ticket will remain with no owner."


# -- applying ------------------------------------------------------------------------------

def test_apply_default_actions(env):
    t = ticket("new", owner="bob")
    modify = Perm("TICKET_MODIFY", "TICKET_CREATE")
    assert apply_action(env, "leave", t, {}, "alice", modify) == {}
    assert apply_action(env, "accept", t, {}, "alice", modify) == \
        {"status": "accepted", "owner": "alice"}
    assert apply_action(env, "reassign", t, {"action_reassign_reassign_owner": " carol "},
                        "alice", modify) == {"status": "assigned", "owner": "carol"}
    assert apply_action(env, "resolve", t, {"action_resolve_resolve_resolution": "invalid"},
                        "alice", modify) == {"status": "closed", "resolution": "invalid"}
    closed = ticket("closed", resolution="fixed")
    assert apply_action(env, "reopen", closed, {}, "alice", modify) == \
        {"status": "reopened", "resolution": ""}


def test_apply_refuses_with_readable_errors(env):
    t = ticket("closed", resolution="fixed")
    with pytest.raises(WorkflowError, match="'resolve' is not available for a ticket in status 'closed'"):
        apply_action(env, "resolve", t, {"action_resolve_resolve_resolution": "fixed"}, "a")
    with pytest.raises(WorkflowError, match="needs TICKET_MODIFY"):
        apply_action(env, "accept", ticket(), {}, "a", Perm("TICKET_VIEW"))
    with pytest.raises(WorkflowError, match="No such ticket action: 'fly'"):
        apply_action(env, "fly", ticket(), {}, "a")
    with pytest.raises(WorkflowError, match="needs an owner"):
        apply_action(env, "reassign", ticket(), {"action_reassign_reassign_owner": " "}, "a")
    with pytest.raises(WorkflowError, match="'done' is not a resolution"):
        apply_action(env, "resolve", ticket(), {"action_resolve_resolve_resolution": "done"}, "a")
    with pytest.raises(WorkflowError, match="needs a resolution"):
        apply_action(env, "resolve", ticket(), {}, "a")


def test_creating_gives_the_component_owner(env):
    with env.db_transaction as db:
        db("INSERT INTO component (name, owner) VALUES ('ui', 'uma')")
    new = {"status": None, "owner": "< default >", "component": "ui"}
    assert apply_action(env, "create", new, {}, "a") == {"status": "new", "owner": "uma"}
    assert apply_action(env, "create_and_assign", new,
                        {"action_create_and_assign_reassign_owner": "zed"}, "a") == \
        {"status": "assigned", "owner": "zed"}


def test_changing_component_of_a_new_ticket_moves_the_owner(env):
    with env.db_transaction as db:
        db("INSERT INTO component (name, owner) VALUES ('ui', 'uma'), ('db', 'dan')")
    t = ticket("new", owner="uma", component="ui")
    assert apply_action(env, "leave", t, {}, "a", changes={"component": "db"}) == {"owner": "dan"}
    t = ticket("new", owner="someone", component="ui")
    assert apply_action(env, "leave", t, {}, "a", changes={"component": "db"}) == {}


# -- custom workflows ----------------------------------------------------------------------

CUSTOM = {
    "leave": "* -> *", "leave.operations": "leave_status", "leave.default": "1",
    "create": "<none> -> new",
    "start": "new -> working", "start.operations": "set_owner_to_self",
    "start.label": "start work", "start.default": "5",
    "handoff": "working -> working", "handoff.operations": "set_owner",
    "handoff.set_owner": "devs, carol, TICKET_ADMIN",
    "handoff.permissions": "TICKET_MODIFY, TICKET_ADMIN",
    "drop": "new,working -> new", "drop.operations": "del_owner", "drop.name": "let go",
    "finish": "working -> closed", "finish.operations": "set_resolution",
    "finish.set_resolution": "fixed",
    "reject": "new -> closed", "reject.operations": "set_resolution",
    "reject.set_resolution": "invalid, wontfix",
}


def test_custom_workflow_order_labels_and_states(env):
    set_workflow(env, CUSTOM)
    assert names(available_actions(env, ticket("new"), Perm(), "a")) == \
        ["start", "leave", "reject", "drop"]
    flow = wf.Workflow(env)
    assert flow.action("start").label == "start work"
    assert flow.action("drop").label == "let go"  # .name, the older spelling
    assert flow.action("handoff").permissions == ("TICKET_MODIFY", "TICKET_ADMIN")
    assert wf.all_states(env) == ["new", "working", "closed"]


def test_set_owner_list_expands_groups_and_permissions(env):
    set_workflow(env, CUSTOM)
    ps = PermissionSystem(env)
    ps.grant("dave", "devs")
    ps.grant("erin", "devs")
    ps.grant("root", "TICKET_ADMIN")
    for user in ("root", "nobody"):
        create_session(env, user, True)
    t = ticket("working", owner="dave")
    control = action_controls(env, "handoff", t, "erin")
    (field,) = control.inputs
    assert (field.name, field.kind) == ("action_handoff_reassign_owner", "select")
    assert field.options == ["carol", "dave", "erin", "root"]
    assert field.value == "erin"  # set_owner starts from the user acting
    assert control.hint == "The owner will be changed from dave to the selected user."
    perm = Perm("TICKET_MODIFY")
    assert apply_action(env, "handoff", t, {"action_handoff_reassign_owner": "root"}, "erin",
                        perm) == {"status": "working", "owner": "root"}
    with pytest.raises(WorkflowError, match="'nobody' is not an owner"):
        apply_action(env, "handoff", t, {"action_handoff_reassign_owner": "nobody"}, "erin", perm)


def test_single_set_owner_and_set_resolution_are_hidden_fields(env):
    set_workflow(env, {**CUSTOM, "handoff.set_owner": "carol"})
    t = ticket("working", owner="dave")
    handoff = action_controls(env, "handoff", t, "a")
    assert [(p.text, p.input.kind, p.input.value) for p in handoff.parts if p.input] == \
        [("to carol", "hidden", "carol")]
    assert handoff.hint == "The owner will be changed from dave to carol."
    assert apply_action(env, "handoff", t, {}, "a") == {"status": "working", "owner": "carol"}
    finish = action_controls(env, "finish", t, "a")
    assert [(p.text, p.input.name, p.input.kind) for p in finish.parts if p.input] == \
        [("as fixed", "action_finish_resolve_resolution", "hidden")]
    assert finish.hint == "The resolution will be set to fixed. Next status will be 'closed'."
    assert apply_action(env, "finish", t, {}, "a") == {"status": "closed", "resolution": "fixed"}


def test_set_resolution_limits_the_choice(env):
    set_workflow(env, CUSTOM)
    reject = action_controls(env, "reject", ticket("new"), "a")
    assert reject.inputs[0].options == ["invalid", "wontfix"]
    with pytest.raises(WorkflowError, match="'fixed' is not a resolution"):
        apply_action(env, "reject", ticket("new"), {"action_reject_resolve_resolution": "fixed"}, "a")


def test_undefined_resolution_is_a_readable_error(env):
    set_workflow(env, {**CUSTOM, "finish.set_resolution": "shipped"})
    control = action_controls(env, "finish", ticket("working"), "a")
    assert "not defined (shipped)" in control.error
    with pytest.raises(WorkflowError, match="not defined"):
        apply_action(env, "finish", ticket("working"), {}, "a")


def test_del_owner_and_set_owner_to_self(env):
    set_workflow(env, CUSTOM)
    assert apply_action(env, "drop", ticket("working", owner="x"), {}, "a") == \
        {"status": "new", "owner": ""}
    assert action_controls(env, "drop", ticket("working"), "a").hint == \
        "The ticket will be disowned. Next status will be 'new'."
    assert apply_action(env, "start", ticket("new", owner=""), {}, "me") == \
        {"status": "working", "owner": "me"}


def test_restrict_owner_offers_ticket_modify_holders(env):
    env.config.set("ticket", "restrict_owner", "true")
    env.config.save()
    ps = PermissionSystem(env)
    ps.revoke("authenticated", "TICKET_MODIFY")
    ps.grant("dev", "TICKET_MODIFY")
    for user in ("dev", "guest"):
        create_session(env, user, True)
    field = action_controls(env, "reassign", ticket(), "dev").inputs[0]
    assert field.kind == "hidden" and field.options == ["dev"]
    with pytest.raises(WorkflowError, match="'guest' is not an owner"):
        apply_action(env, "reassign", ticket(), {"action_reassign_reassign_owner": "guest"}, "dev")


# -- a bad section -------------------------------------------------------------------------

class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record) -> None:
        self.lines.append(record.getMessage())


def test_bad_config_is_reported_and_skipped(env):
    set_workflow(env, {**CUSTOM, "broken": "new working", "ghost.operations": "del_owner",
                       "start.operations": "set_owner_to_self, teleport",
                       "leave.default": "first"})
    log = Lines()
    env.log.addHandler(log)
    try:
        flow = wf.Workflow(env)
        actions = names(available_actions(env, ticket("new"), Perm(), "a"))
    finally:
        env.log.removeHandler(log)
    problems = "\n".join(flow.problems)
    assert "broken = new working: not a transition" in problems
    assert "'ghost' has settings but no transition" in problems
    assert "unknown operation 'teleport'" in problems
    assert "leave.default = first: not a number" in problems
    assert "broken" not in actions and "ghost" not in actions
    assert flow.action("start").operations == ("set_owner_to_self",)
    assert any("unknown operation 'teleport'" in line for line in log.lines)


def test_parse_workflow_reads_trac_spellings():
    parsed = parse_workflow([("make", "< none > -> new"), ("loop", "* -> *"),
                             ("loop.operations", "leave_status")])
    assert parsed.actions["make"].oldstates == ("<none>",)
    assert parsed.actions["make"].applies_to(None)
    assert parsed.actions["loop"].applies_to("anything")
    assert not parsed.actions["loop"].applies_to(None)
    assert "_reset" in parsed.actions and parsed.problems == []


# -- the Workflow macro --------------------------------------------------------------------

def render(env, text: str) -> str:
    return str(format_to_html(FormatContext(env, Href("/p")), text))


def svg_texts(html: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", html)


def test_macro_draws_the_project_workflow(env):
    html = render(env, "Our workflow:\n\n[[Workflow]]\n")
    assert html.count("<svg") == 1 and "<script" not in html
    texts = svg_texts(html)
    for state in ("new", "assigned", "accepted", "reopened", "closed"):
        assert state in texts
    labels = " ".join(texts)
    for label in ("create", "assign", "accept", "reassign", "resolve", "reopen", "leave"):
        assert re.search(rf"\b{label}\b", labels), label
    assert "_reset" not in labels
    width, height = re.search(r'<svg[^>]* width="([\d.]+)" height="([\d.]+)"', html).groups()
    assert 200 < float(width) < 1200 and 200 < float(height) < 1200


def test_macro_inline_definition_and_escaping(env):
    html = render(env, "[[Workflow(go = here -> <b>there</b>; back = <b>there</b> -> here; "
                       "go.label = Go & see)]]")
    texts = svg_texts(html)
    assert "here" in texts and "&lt;b&gt;there&lt;/b&gt;" in texts
    assert "Go &amp; see" in texts and "back" in texts
    assert "<b>" not in html


def test_macro_as_processor_with_size(env):
    html = render(env, "{{{#!Workflow width=640 height=480\nopen = <none> -> open\n"
                       "shut = open -> shut\n}}}\n")
    assert re.search(r'<svg[^>]* width="640" height="480"', html)
    assert {"open", "shut"} <= set(svg_texts(html))


def test_macro_errors_are_boxes_not_failures(env):
    html = render(env, "[[Workflow(nothing here)]]")
    assert "system-message" in html and "cannot read" in html
    html = render(env, "[[Workflow(broken = a b)]]")
    assert "system-message" in html and "no action to draw" in html and "not a transition" in html
    html = render(env, "[[Workflow(file=/contrib/workflow.ini)]]")
    assert "system-message" in html and "not supported" in html


def test_macro_output_is_stable_and_cacheable(env):
    from codeyard.wiki.render_cache import is_cacheable

    assert render(env, "[[Workflow]]") == render(env, "[[Workflow]]")
    assert is_cacheable(env, "[[Workflow]]") is not None
