import json

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Run a benchmark and print its figures as JSON (dispatch, chaos, ingest, inbox, followups,"
        " limits, import, contacts, campaign)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "name",
            choices=[
                "dispatch",
                "chaos",
                "ingest",
                "inbox",
                "followups",
                "limits",
                "import",
                "contacts",
                "campaign",
            ],
        )
        parser.add_argument("--jobs", type=int, default=20000)
        parser.add_argument(
            "--workers",
            type=int,
            help="worker processes (dispatch 4, chaos 3, followups 2, campaign 2)",
        )
        parser.add_argument("--batch-size", type=int, default=200)
        parser.add_argument("--intents", type=int, default=10000, help="chaos: intents to send")
        parser.add_argument(
            "--messages", type=int, default=20000, help="ingest: inbound webhooks to post"
        )
        parser.add_argument(
            "--senders",
            type=int,
            default=32,
            help="ingest: concurrent senders (at 1,000 messages/s and ~30 ms each, ~30 in flight)",
        )
        parser.add_argument(
            "--provider", choices=["evolution", "cloud"], default="evolution", help="ingest: shape"
        )
        parser.add_argument(
            "--mix",
            choices=["text", "realistic"],
            default="text",
            help="ingest: text only, or 70%% text / 20%% 200 KB photos / 10%% events",
        )
        parser.add_argument(
            "--conversations", type=int, default=100_000, help="inbox: conversations to seed"
        )
        parser.add_argument(
            "--inbox-messages", type=int, help="inbox: messages to seed (10 per conversation)"
        )
        parser.add_argument("--clients", type=int, default=32, help="inbox: concurrent clients")
        parser.add_argument("--processes", type=int, default=2, help="inbox, ingest: web processes")
        parser.add_argument(
            "--requests", type=int, default=1000, help="inbox: requests per list (about)"
        )
        parser.add_argument(
            "--pause",
            type=float,
            default=1.0,
            help="inbox: each client's mean pause between requests, seconds (then none)",
        )
        parser.add_argument(
            "--keep", action="store_true", help="inbox: keep the seeded organization for next time"
        )
        parser.add_argument("--rows", type=int, default=100_000, help="import: rows in the file")
        parser.add_argument(
            "--leads", type=int, default=10000, help="followups: leads moved into the stage"
        )
        parser.add_argument(
            "--contacts", type=int, default=1_000_000, help="contacts: contacts to seed"
        )

        parser.add_argument(
            "--recipients", type=int, default=100_000, help="campaign: people in its audience"
        )
        parser.add_argument(
            "--opt-outs", type=int, default=300, help="campaign: people opted out mid-run"
        )
        parser.add_argument(
            "--profile", action="store_true", help="campaign: cProfile of the start, on stderr"
        )

    def handle(self, *args, name, jobs, workers, batch_size, intents, **options):
        from bench import (
            campaign,
            chaos,
            contacts,
            dispatch,
            followups,
            imports,
            inbox,
            ingest,
            limits,
        )

        if name == "campaign":
            figures = campaign.run(
                recipients=options["recipients"],
                workers=workers or 2,
                batch_size=batch_size,
                opt_outs=options["opt_outs"],
                profile=options["profile"],
            )
        elif name == "import":
            figures = imports.run(rows=options["rows"])
        elif name == "contacts":
            figures = contacts.run(contacts=options["contacts"])
        elif name == "limits":
            figures = limits.run()
        elif name == "inbox":
            figures = inbox.run(
                conversations=options["conversations"],
                messages=options["inbox_messages"],
                clients=options["clients"],
                processes=options["processes"],
                requests=options["requests"],
                pause=options["pause"],
                keep=options["keep"],
            )
        elif name == "ingest":
            figures = ingest.run(
                messages=options["messages"],
                senders=options["senders"],
                provider=options["provider"],
                processes=options["processes"],
                mix=options["mix"],
            )
        elif name == "followups":
            figures = followups.run(leads=options["leads"], workers=workers or 2)
        elif name == "chaos":
            figures = chaos.run(intents=intents, workers=workers or 3)
        else:
            figures = dispatch.run(jobs=jobs, workers=workers or 4, batch_size=batch_size)
        self.stdout.write(json.dumps(figures, indent=2))
