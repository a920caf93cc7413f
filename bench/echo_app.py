"""The baseline for benchmark (b): a bare Flask endpoint that only echoes the message
in the REST channel's JSON shape (no NLU, no actions, no database)."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/webhooks/rest/webhook")
def echo():
    data = request.get_json(silent=True) or {}
    return jsonify([{"recipient_id": data.get("sender"), "text": data.get("message")}])
