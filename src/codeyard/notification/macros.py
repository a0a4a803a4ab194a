"""``[[SubscriberList]]``: the notification subscribers a project has, with what each means."""

from __future__ import annotations

from markupsafe import Markup, escape

from codeyard.core import hookimpl
from codeyard.notification.api import subscribers
from codeyard.wiki.api import RenderDependencies, WikiMacro

_DOC = ("List the notification subscribers (the rule classes of "
        "`[notification-subscriber]` and the preferences) with their descriptions. An "
        "argument keeps those whose name starts with it (`*` at its end is allowed).")


def subscriber_list(fmt, name, content, args=None):
    wanted = (content or "").strip().strip("*")
    rows = [(sub.name, sub.description) for sub in subscribers(fmt.env).values()
            if not wanted or sub.name.startswith(wanted)]
    body = "".join(
        f'<tr class="{"odd" if i % 2 else "even"}"><td><code>{escape(n)}</code></td>'
        f"<td>{escape(d)}</td></tr>" for i, (n, d) in enumerate(rows))
    return Markup('<div class="trac-subscriberlist"><table class="wiki"><thead><tr>'
                  f"<th>Subscriber</th><th>Description</th></tr></thead><tbody>{body}"
                  "</tbody></table></div>")


SUBSCRIBER_LIST = WikiMacro("SubscriberList", subscriber_list, _DOC)


@hookimpl
def wiki_macros():
    return {"SubscriberList": SUBSCRIBER_LIST}


@hookimpl
def wiki_render_dependencies():
    # The list comes from the enabled plugins, part of the configuration.
    return RenderDependencies(macros={"SubscriberList": None})
