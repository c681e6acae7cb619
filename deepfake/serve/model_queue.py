"""Every model call of the service on one thread, with the plain images that wait batched together.

Request threads decode and crop (Detector.prepare), then hand their crops here. While the model runs one
batch, the next requests' crops queue up, and the thread takes all of them (up to max_batch images) as the
next batch: under load the batches fill by themselves, and a lone request waits for no timer. Work that is
not one image's crops (faces, videos, Grad-CAM) runs here too, as a call of its own, so the model is never
used by two threads at once.
"""
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Callable, List

import torch

from ..data.datasets import concatenate_crops
from ..inference.detector import Detector


@dataclass
class _Crops:
    crops: torch.Tensor
    future: Future


@dataclass
class _Call:
    function: Callable
    future: Future


_STOP = object()


class ModelQueue:
    def __init__(self, detector: Detector, max_batch: int = 32):
        self.detector = detector
        self.max_batch = max_batch
        self._jobs: "queue.Queue" = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="deepfake-model", daemon=True)
        self._thread.start()

    def score(self, crops: torch.Tensor) -> Future:
        """A Future of one image's calibrated P(fake), from its transformed crops."""
        future = Future()
        self._jobs.put(_Crops(crops, future))
        return future

    def call(self, function: Callable) -> Future:
        """A Future of function(), run on the model's thread."""
        future = Future()
        self._jobs.put(_Call(function, future))
        return future

    def close(self) -> None:
        self._jobs.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        carried = None  # a call met while gathering a batch: it runs right after that batch
        while True:
            job = carried or self._jobs.get()
            carried = None
            if job is _STOP:
                return
            if isinstance(job, _Call):
                self._settle(job.future, job.function)
                continue
            batch: List[_Crops] = [job]
            while len(batch) < self.max_batch:
                try:
                    waiting = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if not isinstance(waiting, _Crops):
                    carried = waiting
                    break
                batch.append(waiting)
            self._score_batch(batch)

    def _score_batch(self, batch: List[_Crops]) -> None:
        try:
            probabilities = self.detector.fake_probabilities(*concatenate_crops([job.crops for job in batch]))
        except BaseException as error:  # every waiting request hears of it, and the thread goes on
            for job in batch:
                job.future.set_exception(error)
            return
        for job, probability in zip(batch, probabilities.tolist()):
            job.future.set_result(probability)

    @staticmethod
    def _settle(future: Future, function: Callable) -> None:
        try:
            future.set_result(function())
        except BaseException as error:
            future.set_exception(error)
