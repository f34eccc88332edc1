#include "caption/prompts.h"

#include <string.h>

static const char P_DEFAULT[] =
    "\n"
    "        Elaborate on the visual and narrative elements of the video in detail.\n"
    "    ";

static const char P_AV[] =
    "\n"
    "        The video depicts the view from a camera mounted on a car as it is driving.\n"
    "        Pay special attention to the motion of the cars, including the primary car\n"
    "        whose point-of-view we observe in the video. Also note important factors\n"
    "        that would relate to driving safety like the relative positions of pedestrians,\n"
    "        lane markers, road signs, traffic signals, and any aggressive driving behavior\n"
    "        of other vehicles. Also pay attention to interesting landmarks and describe\n"
    "        them in detail.\n"
    "    ";

static const char P_AV_SURV[] =
    "\n"
    "        The video depicts the view from a surveillance camera. Pay special attention\n"
    "        to the motion of the cars and other important factors that would relate to\n"
    "        driving safety like the relative positions of pedestrians, lane markers,\n"
    "        road signs, traffic signals, and any aggressive driving behavior of vehicles.\n"
    "        Also pay attention to interesting landmarks and describe them in detail.\n"
    "    ";

static const char E_DEFAULT[] =
    "\n"
    "        You are a chatbot that enhances video caption inputs, adding more color and details to the text.\n"
    "        The output should be longer than the provided input caption.\n"
    "        Respond only with the enhanced caption; do not ask follow-up questions or offer additional assistance.\n"
    "    ";

static const char E_AV_SURV[] =
    "\n"
    "        You are a chatbot that enhances video captions from vehicle dashboard cameras or surveillance cameras.\n"
    "        Add more details and generate a summary from the original text.\n"
    "        The output should be longer than the provided input caption.\n"
    "    ";

static const char STAGE2[] =
    "Improve and refine following video description. Focus on highlighting the key visual and sensory elements.\n"
    "Ensure the description is clear, precise, and paints a compelling picture of the scene.\n";

static const char R1_SYSTEM[] =
    "You are a helpful assistant. Answer the question in the following format: "
    "<think>\nyour reasoning\n</think>\n\n<answer>\nyour answer\n</answer>.";

const char *vc_cap_prompt(const char *v)
{
    if (!strcmp(v, "default"))
        return P_DEFAULT;
    if (!strcmp(v, "av"))
        return P_AV;
    if (!strcmp(v, "av-surveillance"))
        return P_AV_SURV;
    return NULL;
}

const char *vc_cap_enhance_prompt(const char *v)
{
    if (!strcmp(v, "default"))
        return E_DEFAULT;
    if (!strcmp(v, "av-surveillance"))
        return E_AV_SURV;
    return NULL;
}

const char *vc_cap_stage2_prompt(void) { return STAGE2; }
const char *vc_cap_cosmos_r1_system(void) { return R1_SYSTEM; }
