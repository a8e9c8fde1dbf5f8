"""Export: what leaves the studio.

- ``destination``: where an export may write, and the marker that lets --overwrite replace it;
- ``merge``: the adapter folder and its zip, merging into the base at a chosen dtype;
- ``verify``: the exported files loaded with the plain libraries answer like the studio;
- ``card`` (+ ``lossplot``): the model card with its loss curve;
- ``hub``: push to the Hugging Face Hub.
"""
