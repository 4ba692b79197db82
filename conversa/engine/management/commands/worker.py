import signal
import threading

from django.core.management.base import BaseCommand

from conversa.engine.worker import Worker


class Command(BaseCommand):
    help = "Run the execution engine's worker: claim jobs, send them, reap expired leases."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=1, help="parallel worker loops")
        parser.add_argument("--batch-size", type=int, default=10)

    def handle(self, *args, concurrency, batch_size, **options):
        workers = [Worker(batch_size=batch_size) for _ in range(max(1, concurrency))]

        def stop(signum, frame):
            for worker in workers:
                worker.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        threads = [threading.Thread(target=w.run_forever, name=w.worker_id) for w in workers]
        for thread in threads:
            thread.start()
        self.stdout.write(f"worker running with concurrency {len(workers)}")
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.5)
