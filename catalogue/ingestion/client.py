"""A small client a beamline or pipeline script imports to store datasets in the catalogue.

It needs only `requests` (no Django)::

    from catalogue.ingestion.client import CatalogueError, store_dataset

    try:
        dataset = store_dataset(
            "https://data.example.org", key,
            proposal="MX-2485", visit_id="1", sample="lysozyme", name="scan 1",
            location="/data/visitor/mx2485/id30a1/20240301/lysozyme/scan1",
            definition="MX_OSCILLATION",
            parameters={"InstrumentMonochromator_energy": {"value": 12848, "unit": "eV"}},
            inputs=[],                 # locations (str) or ids (int) of earlier datasets
            files=[{"path": "img_0001.cbf", "size": 6224001}],   # or leave out: the folder is scanned
        )
    except CatalogueError as exc:
        print(exc)          # every bad field, one per line
        exc.errors          # the same, as the API's dict: {"location": ..., "parameters": {...}}

`store_dataset` returns the stored dataset as the API's dict, with `.created` telling a new
dataset (True) from an update of the one at the same location (False). Storing is idempotent
(upsert by location), so the client retries safely on connection errors and on 502/503/504
(waiting as long as a 503's Retry-After asks, up to a minute, while the catalogue's database restarts).

A pipeline storing many datasets sends them in batches of up to 500 (one request, one transaction
each)::

    from catalogue.ingestion.client import store_datasets

    for result in store_datasets("https://data.example.org", key, [fields_1, fields_2, ...]):
        if result.error:
            print(result.error)                 # that dataset's bad fields, one per line
        else:
            result.dataset, result.created      # as store_dataset returns them

`store_datasets` returns one result per dataset, in the order given; a dataset the catalogue
refused (its 400) is a result with `.error`, a CatalogueError with its errors by field, while the
others are stored. A refusal of the whole request (401, 403, 413, a 400 of the body) raises
CatalogueError, as store_dataset does.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests

API_PATH = "/api/v1/datasets/"
BATCH_PATH = "batch/"
BATCH_MAX = 500  # datasets a request: the API's limit
RETRY_STATUSES = {502, 503, 504}
MAX_RETRY_AFTER = 60


class CatalogueError(Exception):
    """The catalogue refused the request, or could not be reached.

    status: the HTTP status (None when the server was not reached);
    detail: the API's summary; errors: the API's errors by field ({} when none).
    """

    def __init__(self, message: str, *, status: int | None = None, detail: str = "", errors: dict | None = None):
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.errors = errors or {}


class StoredDataset(dict):
    """The API's dataset, plus whether this call created it."""

    created: bool

    def __init__(self, data: dict, *, created: bool):
        super().__init__(data)
        self.created = created


def datasets_url(url: str) -> str:
    """The datasets endpoint of a catalogue given by its base URL (or the endpoint itself)."""
    url = url.rstrip("/")
    if url.endswith(API_PATH.rstrip("/")):
        return url + "/"
    return url + API_PATH


def _flatten(errors: Any, prefix: str = "") -> list[str]:
    """{"parameters": {"MX_x": "..."}} -> ["parameters.MX_x: ..."]."""
    if isinstance(errors, dict):
        lines = []
        for key, value in errors.items():
            lines += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return lines
    if isinstance(errors, list) and all(not isinstance(item, (dict, list)) for item in errors):
        return [f"{prefix}: {'; '.join(str(item) for item in errors)}" if prefix else "; ".join(map(str, errors))]
    if isinstance(errors, list):
        lines = []
        for index, item in enumerate(errors):
            lines += _flatten(item, f"{prefix}.{index}" if prefix else str(index))
        return lines
    return [f"{prefix}: {errors}" if prefix else str(errors)]


def _error_from(response: requests.Response) -> CatalogueError:
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        text = response.text.strip()[:500] or response.reason
        return CatalogueError(f"catalogue answered {response.status_code}: {text}", status=response.status_code)
    detail = str(answer.get("detail", "")) or response.reason or ""
    errors = answer.get("errors") if isinstance(answer.get("errors"), dict) else {}
    lines = [f"catalogue answered {response.status_code}: {detail}"]
    lines += [f"  {line}" for line in _flatten(errors)]
    return CatalogueError("\n".join(lines), status=response.status_code, detail=detail, errors=errors)


def _retry_after(response: requests.Response) -> float:
    """The server's Retry-After in seconds (a 503 while its database restarts), at most a minute."""
    try:
        seconds = float(response.headers.get("Retry-After", 0))
    except ValueError:  # an HTTP date: not worth parsing here
        return 0
    return min(seconds, MAX_RETRY_AFTER) if seconds > 0 else 0  # also NaN -> 0


@dataclass
class BatchResult:
    """One dataset's answer in store_datasets: the stored dataset, or the error that refused it."""

    index: int  # its place in the list given
    dataset: StoredDataset | None = None
    error: CatalogueError | None = None

    @property
    def created(self) -> bool:
        return self.dataset is not None and self.dataset.created


def _body(fields: dict) -> dict:
    return {name: value.isoformat() if hasattr(value, "isoformat") else value for name, value in fields.items()}


def _post(
    http: requests.Session, endpoint: str, body: dict, headers: dict, *, timeout: float, retries: int, backoff: float
) -> requests.Response:
    """POST body, retried on connection errors and 502/503/504; the answer, or CatalogueError."""
    for attempt in range(retries + 1):
        last = attempt == retries
        delay = backoff * 2**attempt
        try:
            response = http.post(endpoint, json=body, headers=headers, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            if last:
                raise CatalogueError(f"catalogue not reachable at {endpoint}: {exc}") from exc
        else:
            if response.status_code in (200, 201):
                return response
            if last or response.status_code not in RETRY_STATUSES:
                raise _error_from(response)
            delay = max(delay, _retry_after(response))
        time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def store_datasets(
    url: str,
    key: str,
    datasets: Iterable[dict],
    *,
    batch_size: int = BATCH_MAX,
    timeout: float = 300,
    retries: int = 3,
    backoff: float = 1.0,
    session: requests.Session | None = None,
) -> list[BatchResult]:
    """Store (create or update) many datasets, each a dict of store_dataset's fields, in batches of
    up to batch_size (at most 500) through POST /api/v1/datasets/batch/; see the module's docstring.

    Returns one BatchResult per dataset, in order. Retrying a batch is safe (upsert by location).
    Raises CatalogueError when the catalogue refuses a whole request, or cannot be reached; the
    batches before it are stored.
    """
    if not 0 < batch_size <= BATCH_MAX:
        raise ValueError(f"batch_size must be from 1 to {BATCH_MAX}")
    bodies = [_body(fields) for fields in datasets]
    headers = {"Authorization": f"Api-Key {key}", "Accept": "application/json"}
    http = session or requests.Session()
    endpoint = datasets_url(url) + BATCH_PATH
    results: list[BatchResult] = []
    try:
        for start in range(0, len(bodies), batch_size):
            response = _post(
                http,
                endpoint,
                {"datasets": bodies[start : start + batch_size]},
                headers,
                timeout=timeout,
                retries=retries,
                backoff=backoff,
            )
            for item in response.json()["results"]:
                index = start + item["index"]
                if item["status"] in (200, 201):
                    dataset = StoredDataset(item["dataset"], created=item["status"] == 201)
                    results.append(BatchResult(index, dataset=dataset))
                else:
                    results.append(BatchResult(index, error=_item_error(index, item)))
    finally:
        if session is None:
            http.close()
    return results


def _item_error(index: int, item: dict) -> CatalogueError:
    detail = str(item.get("detail", ""))
    errors = item.get("errors") if isinstance(item.get("errors"), dict) else {}
    lines = [f"dataset {index}: catalogue answered {item['status']}: {detail}"]
    lines += [f"  {line}" for line in _flatten(errors)]
    return CatalogueError("\n".join(lines), status=item["status"], detail=detail, errors=errors)


def store_dataset(
    url: str,
    key: str,
    *,
    timeout: float = 30,
    retries: int = 3,
    backoff: float = 1.0,
    session: requests.Session | None = None,
    **fields: Any,
) -> StoredDataset:
    """Store (create or update) the dataset at fields["location"]; see the module's docstring.

    url: the catalogue's base URL; key: the instrument's API key; fields: the storeDataset body
    (proposal, visit_id, instrument, time, sample, name, location, kind, definition, description,
    start_date, end_date, parameters, inputs, files). Dates may be datetime objects.
    Raises CatalogueError with the API's errors by field.
    """
    headers = {"Authorization": f"Api-Key {key}", "Accept": "application/json"}
    http = session or requests.Session()
    try:
        response = _post(
            http, datasets_url(url), _body(fields), headers, timeout=timeout, retries=retries, backoff=backoff
        )
        return StoredDataset(response.json(), created=response.status_code == 201)
    finally:
        if session is None:
            http.close()
