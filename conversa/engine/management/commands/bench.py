import json

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Run a benchmark and print its figures as JSON (dispatch, chaos, ingest, inbox, followups,"
        " limits, import, contacts, campaign, knowledge, export, insights, webhooks, assistant)."
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
                "knowledge",
                "export",
                "insights",
                "webhooks",
                "assistant",
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
            "--conversations",
            type=int,
            default=100_000,
            help="inbox, insights: conversations to seed",
        )
        parser.add_argument(
            "--insights-messages", type=int, help="insights: messages to seed (10 per conversation)"
        )
        parser.add_argument("--days", type=int, default=30, help="insights: days the seed spans")
        parser.add_argument(
            "--no-backup", action="store_true", help="insights: skip the backup and restore"
        )
        parser.add_argument(
            "--inbox-messages", type=int, help="inbox: messages to seed (10 per conversation)"
        )
        parser.add_argument("--clients", type=int, default=32, help="inbox: concurrent clients")
        parser.add_argument(
            "--processes", type=int, default=2, help="inbox, ingest, insights: web processes"
        )
        parser.add_argument(
            "--requests",
            type=int,
            help="inbox: requests per list (about; 1000); insights: GETs of each (50)",
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
        parser.add_argument(
            "--passages", type=int, default=10_000, help="knowledge, assistant: passages to seed"
        )
        parser.add_argument(
            "--customers",
            type=int,
            default=500,
            help="assistant: customers who write (three times: no assistant, classification off,"
            " then on)",
        )
        parser.add_argument(
            "--rate", type=float, default=2.0, help="assistant: customers writing a second"
        )
        parser.add_argument(
            "--model-latency-ms",
            type=int,
            default=0,
            help="assistant: how long the simulator's model takes to answer each call",
        )
        parser.add_argument(
            "--person-every",
            type=int,
            default=5,
            help="assistant: one customer in this many asks for a person",
        )
        parser.add_argument(
            "--export-messages",
            type=int,
            default=1_000_000,
            help="export: messages to seed (exported whole and a tenth of them)",
        )
        parser.add_argument(
            "--formats", default="csv,xlsx", help="export: the formats written, comma-separated"
        )

    def handle(self, *args, name, jobs, workers, batch_size, intents, **options):
        from bench import (
            assistant,
            campaign,
            chaos,
            contacts,
            dispatch,
            export,
            followups,
            imports,
            inbox,
            ingest,
            insights,
            knowledge,
            limits,
            webhook_chaos,
            webhooks,
        )

        if name == "assistant":
            figures = assistant.run(
                customers=options["customers"],
                rate=options["rate"],
                person_every=options["person_every"],
                passages=options["passages"],
                model_latency_ms=options["model_latency_ms"],
            )
        elif name == "webhooks":
            figures = webhooks.run()
            # Several worker processes claiming at once: PostgreSQL's case.
            if figures["database"] == "postgresql":
                figures["chaos"] = webhook_chaos.run(workers=workers or 3)
        elif name == "campaign":
            figures = campaign.run(
                recipients=options["recipients"],
                workers=workers or 2,
                batch_size=batch_size,
                opt_outs=options["opt_outs"],
                profile=options["profile"],
            )
        elif name == "export":
            formats = tuple(f for f in options["formats"].split(",") if f in ("csv", "xlsx"))
            figures = export.run(messages=options["export_messages"], formats=formats)
        elif name == "insights":
            figures = insights.run(
                conversations=options["conversations"],
                messages=options["insights_messages"],
                days=options["days"],
                requests=options["requests"] or 50,
                ingest_messages=options["messages"],
                senders=options["senders"],
                backup=not options["no_backup"],
                processes=options["processes"],
            )
        elif name == "import":
            figures = imports.run(rows=options["rows"])
        elif name == "contacts":
            figures = contacts.run(contacts=options["contacts"])
        elif name == "knowledge":
            figures = knowledge.run(passages=options["passages"])
        elif name == "limits":
            figures = limits.run()
        elif name == "inbox":
            figures = inbox.run(
                conversations=options["conversations"],
                messages=options["inbox_messages"],
                clients=options["clients"],
                processes=options["processes"],
                requests=options["requests"] or 1000,
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
