import signal
import threading

from django.core.management.base import BaseCommand

from conversa.engine.worker import Worker


class Command(BaseCommand):
    help = "Run the execution engine's worker: claim jobs, send them, reap expired leases."

    def add_arguments(self, parser):
        parser.add_argument(
            "--concurrency", type=int, default=4, help="provider calls in flight at once"
        )
        parser.add_argument("--batch-size", type=int, default=16, help="jobs claimed per pass")

    def handle(self, *args, concurrency, batch_size, **options):
        worker = Worker(batch_size=batch_size, concurrency=concurrency)

        def stop(signum, frame):
            worker.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        thread = threading.Thread(target=worker.run_forever, name=worker.worker_id)
        thread.start()
        self.stdout.write(f"worker {worker.worker_id} running, concurrency {worker.concurrency}")
        # Join in short steps so the main thread stays free to take the signals.
        while thread.is_alive():
            thread.join(timeout=0.5)
