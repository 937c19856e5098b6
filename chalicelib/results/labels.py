"""Label names as Rekognition spells them, with parents and a category, for the 80 COCO classes.

The detector speaks Darknet's COCO names (``motorbike``, ``aeroplane``, ``sofa``, ``tvmonitor``);
Ultralytics' spellings (``motorcycle``, ``airplane``, ``couch``, ``tv``) map the same way. Any
other class name (a user's own model) passes through title-cased, with no parents and no
category. The Rekognition API names labels with it; the tracker lets a track's label change
only within a category (``category_of``: a ball read as a frisbee, a car as a truck).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelInfo:
    name: str
    parents: tuple[str, ...] = ()
    category: str | None = None


# category -> (parents shared by the group, {model's class name: Rekognition's name})
_TAXONOMY: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "Person Description": ((), {"person": "Person"}),
    "Vehicles and Automotive": (
        ("Vehicle", "Transportation"),
        {"bicycle": "Bicycle", "car": "Car", "motorbike": "Motorcycle", "motorcycle": "Motorcycle",
         "aeroplane": "Airplane", "airplane": "Airplane", "bus": "Bus", "train": "Train",
         "truck": "Truck", "boat": "Boat"},
    ),
    "Transport and Logistics": (
        (),
        {"traffic light": "Traffic Light", "fire hydrant": "Fire Hydrant",
         "stop sign": "Stop Sign", "parking meter": "Parking Meter", "bench": "Bench"},
    ),
    "Animals and Pets": (
        ("Animal",),
        {"bird": "Bird", "cat": "Cat", "dog": "Dog", "horse": "Horse", "sheep": "Sheep",
         "cow": "Cow", "elephant": "Elephant", "bear": "Bear", "zebra": "Zebra",
         "giraffe": "Giraffe"},
    ),
    "Apparel and Accessories": (
        ("Accessories",),
        {"backpack": "Backpack", "umbrella": "Umbrella", "handbag": "Handbag", "tie": "Tie",
         "suitcase": "Suitcase"},
    ),
    "Sports": (
        ("Sport",),
        {"frisbee": "Frisbee", "skis": "Skiing", "snowboard": "Snowboarding",
         "sports ball": "Ball", "kite": "Kite", "baseball bat": "Baseball Bat",
         "baseball glove": "Baseball Glove", "skateboard": "Skateboard",
         "surfboard": "Surfing", "tennis racket": "Racket"},
    ),
    "Food and Beverage": (
        ("Food",),
        {"banana": "Banana", "apple": "Apple", "sandwich": "Sandwich", "orange": "Orange",
         "broccoli": "Broccoli", "carrot": "Carrot", "hot dog": "Hot Dog", "pizza": "Pizza",
         "donut": "Donut", "cake": "Cake"},
    ),
    "Kitchen and Dining": (
        ("Tableware",),
        {"bottle": "Bottle", "wine glass": "Wine Glass", "cup": "Cup", "fork": "Fork",
         "knife": "Knife", "spoon": "Spoon", "bowl": "Bowl"},
    ),
    "Furniture and Furnishings": (
        ("Furniture",),
        {"chair": "Chair", "sofa": "Couch", "couch": "Couch", "bed": "Bed",
         "diningtable": "Dining Table", "dining table": "Dining Table"},
    ),
    "Home and Indoors": (
        (),
        {"pottedplant": "Potted Plant", "potted plant": "Potted Plant", "toilet": "Toilet",
         "sink": "Sink", "book": "Book", "clock": "Clock", "vase": "Vase",
         "scissors": "Scissors", "teddy bear": "Teddy Bear", "hair drier": "Blow Dryer",
         "toothbrush": "Toothbrush"},
    ),
    "Technology and Computing": (
        ("Electronics",),
        {"tvmonitor": "Tv", "tv": "Tv", "laptop": "Laptop", "mouse": "Mouse",
         "remote": "Remote Control", "keyboard": "Keyboard", "cell phone": "Mobile Phone"},
    ),
    "Home Appliances": (
        ("Appliance",),
        {"microwave": "Microwave", "oven": "Oven", "toaster": "Toaster",
         "refrigerator": "Refrigerator"},
    ),
}  # fmt: skip

LABELS: dict[str, LabelInfo] = {
    model_name: LabelInfo(name, parents, category)
    for category, (parents, names) in _TAXONOMY.items()
    for model_name, name in names.items()
}


def label_info(model_name: str) -> LabelInfo:
    known = LABELS.get(model_name.lower())
    if known is not None:
        return known
    return LabelInfo(" ".join(word.capitalize() for word in model_name.replace("_", " ").split()))


def category_of(model_name: str) -> str | None:
    """The category of a model's class name; None for a class we know nothing about."""
    known = LABELS.get(model_name.lower())
    return None if known is None else known.category
